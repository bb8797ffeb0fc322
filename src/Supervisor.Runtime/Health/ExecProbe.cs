using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Launch;
using Supervisor.Runtime.Planning;
using Supervisor.Runtime.Reaping;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision.Logs;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Health;

/// <summary>
/// An exec probe: the command started as a control command is (ExecReload's path): from the
/// unit's compiled plan, so in its cgroup and sandbox and as its user, with "+" and "!" refused at
/// load; in the main process's network namespace when the unit has its own. Its stdout and stderr share one channel of which only the first line is kept (bounded);
/// past TimeoutSec it is killed with SIGKILL (its pid-namespace init, when it has one, takes the
/// namespace along) and counts as failed.
/// </summary>
internal sealed class ExecProbe(CgroupLifecycle cgroups, Reaper reaper, FdBudget fds)
{
    /// <summary>How much of the probe's output is read for its first line.</summary>
    private const int MaxOutputBytes = 4096;

    /// <summary>How long the output is waited for after the probe exited (a child of it may keep it open).</summary>
    private static readonly TimeSpan OutputWait = TimeSpan.FromMilliseconds(200);

    public async Task<(bool Ok, string Detail)> RunAsync(UnitSlot slot, UnitPlan plan, Command command, int? mainPid, TimeSpan timeout, CancellationToken stopping)
    {
        var exec = CommandExpansion.Prepare(plan.For(command).ExecOrThrow, command, mainPid);
        // A unit with its own network namespace: a new one for the probe would hold nothing the
        // service listens on; the probe joins the running service's instead (the helper joins a
        // network namespace path first, in the host's user namespace, which owns every other one).
        if ((exec.Namespaces & NamespaceFlags.Net) != 0 && mainPid is { } pid)
            exec = exec with { Namespaces = exec.Namespaces & ~NamespaceFlags.Net, NetworkNamespacePath = $"/proc/{pid}/ns/net" };
        fds.Reserve(slot.Name);
        cgroups.Prepare(slot, plan, main: false);
        var (read, childFd) = OutputChannel.Create();
        SandboxProcess process;
        try
        {
            using (reaper.Launching())
                process = SandboxLauncher.Start(exec with { Stdio = new StdioFds(-1, childFd, childFd) }, slot.Name);
        }
        catch
        {
            read.Dispose();
            throw;
        }
        finally
        {
            OutputChannel.CloseChildEnd(childFd);
        }
        using var _ = read;
        using var __ = process;
        var exited = new TaskCompletionSource<ExitInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        reaper.Watch(process.Pid, e => exited.TrySetResult(e));
        var output = ProbeOutput.FirstLineAsync(read, MaxOutputBytes, stopping);
        if (await Task.WhenAny(exited.Task, Task.Delay(timeout, stopping)).ConfigureAwait(false) != exited.Task)
        {
            process.Signal(9);
            await exited.Task.WaitAsync(stopping).ConfigureAwait(false);
            return (false, $"'{command.Program}' did not exit within TimeoutSec={Units.Values.Duration.FromMilliseconds((long)timeout.TotalMilliseconds)}; killed");
        }
        var exit = exited.Task.Result;
        string? line = null;
        try
        {
            line = await output.WaitAsync(OutputWait, stopping).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        bool ok = exit.Code == 0;
        return (ok, $"'{command.Program}' exited, {exit}" + (line is null ? "" : ": " + line));
    }
}
