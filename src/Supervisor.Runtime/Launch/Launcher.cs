using Supervisor.Linux;
using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Notify;
using Supervisor.Runtime.Output;
using Supervisor.Runtime.Planning;
using Supervisor.Runtime.Reaping;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision;
using Supervisor.Supervision.Logs;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Launch;

/// <summary>
/// Starts a unit's processes from its plan: the cgroup ready, the notify socket bound (main only),
/// the output channels made and held, the helper started with the exec plan, the exit watched.
/// Results go to the manager as events.
/// </summary>
internal sealed class Launcher(IUnitEventSink sink, CgroupLifecycle cgroups, NotifyEndpoints notify, OutputKeeper output,
    Reaper reaper, FdBudget fds, CancellationToken stopping)
{
    /// <param name="listen">Socket activation: the listening sockets the main process gets as fds 3.., with their names.</param>
    public void StartMain(UnitSlot slot, UnitPlan plan, IReadOnlyList<(int Fd, string Name)>? listen = null)
    {
        fds.Reserve(slot.Name);
        Interlocked.Increment(ref slot.Generation);
        var cgroup = cgroups.Prepare(slot, plan, main: true);
        slot.Oom ??= cgroup.WatchOomKills();
        slot.OomAtStart = slot.Oom.Count;
        if (plan.NotifySocket is { } socket) notify.Open(slot, socket, cgroup);
        slot.MainPlan = plan;
        var (process, _) = Start(slot, WithListenFds(plan.Main!.ExecOrThrow, listen), phase: null, hold: true);
        slot.Main = process;
        int pid = process.Pid;
        // With a pid namespace the helper stays as its init: the service is its child.
        int reported = process.HasInit ? process.FindServicePid() ?? pid : pid;
        sink.Post(slot.Name, new UnitEvent.MainStarted(reported));
        // The process's own pidfd serves the reaper: one descriptor per unit, not two.
        reaper.Watch(pid, exit => sink.Post(slot.Name, new UnitEvent.MainExited(ThroughInit(exit, process.HasInit), slot.OomKilledSinceStart, reported)), process.PidFd);
    }

    public void StartControl(UnitSlot slot, UnitPlan plan, Phase phase, Command command)
    {
        var exec = plan.For(command).ExecOrThrow;
        fds.Reserve(slot.Name);
        cgroups.Prepare(slot, plan, main: false);
        var (process, stderr) = Start(slot, exec, phase, hold: false);
        int pid = process.Pid;
        process.Dispose();
        reaper.Watch(pid, exit =>
        {
            if (exit.Code == 0)
            {
                sink.Post(slot.Name, new UnitEvent.ControlExited(exit));
                return;
            }
            // A failure's message carries the command's last stderr line: wait for the rest of its
            // output, but not for a child of it that keeps stderr open.
            stderr.WaitAsync(LastWordsWait).ContinueWith(
                t => sink.Post(slot.Name, new UnitEvent.ControlExited(exit, t.IsCompletedSuccessfully ? t.Result : null)),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        });
    }

    /// <summary>sd_listen_fds(3): LISTEN_FDS and LISTEN_FDNAMES here; LISTEN_PID only the helper knows (the pid as the service sees it).</summary>
    private static ExecPlan WithListenFds(ExecPlan exec, IReadOnlyList<(int Fd, string Name)>? listen)
    {
        if (listen is null || listen.Count == 0) return exec;
        var env = exec.Environment.Where(e => !e.StartsWith("LISTEN_", StringComparison.Ordinal))
            .Append($"LISTEN_FDS={listen.Count}")
            .Append("LISTEN_FDNAMES=" + string.Join(':', listen.Select(l => l.Name)));
        return exec with { Environment = [.. env], ListenFds = [.. listen.Select(l => l.Fd)] };
    }

    /// <summary>How long a failed control command's remaining output is waited for.</summary>
    private static readonly TimeSpan LastWordsWait = TimeSpan.FromSeconds(1);

    /// <summary>Starts one process of the unit; returns it and the task that reads its stderr (its last line at EOF).</summary>
    private (SandboxProcess Process, Task<string?> Stderr) Start(UnitSlot slot, ExecPlan exec, Phase? phase, bool hold)
    {
        var (outRead, outFd) = OutputChannel.Create();
        var (errRead, errFd) = OutputChannel.Create();
        if (hold) output.Hold(slot.Name, outRead.SafeHandle, errRead.SafeHandle);
        SandboxProcess process;
        try
        {
            using (reaper.Launching())
                process = SandboxLauncher.Start(exec with { Stdio = new StdioFds(-1, outFd, errFd) }, slot.Name);
        }
        finally
        {
            // The child has its copies (or failed); ours must go, or the log never sees EOF.
            OutputChannel.CloseChildEnd(outFd);
            OutputChannel.CloseChildEnd(errFd);
        }
        _ = slot.Log.PumpAsync(outRead, phase is null ? "stdout" : $"{phase}:stdout", stopping);
        return (process, slot.Log.PumpAsync(errRead, phase is null ? "stderr" : $"{phase}:stderr", stopping));
    }

    /// <summary>
    /// With a pid namespace the helper stays as the namespace's PID 1 and exits with the service's
    /// code, or 128+signal when the service was killed (an init cannot re-raise a fatal signal on itself).
    /// </summary>
    private static ExitInfo ThroughInit(ExitInfo exit, bool viaInit) =>
        viaInit && exit.Code is { } code ? ExitInfo.FromShellStatus(code) : exit;
}
