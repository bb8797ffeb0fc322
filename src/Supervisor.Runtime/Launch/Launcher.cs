using Supervisor.Linux;
using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Notify;
using Supervisor.Runtime.Output;
using Supervisor.Runtime.Planning;
using Supervisor.Runtime.Reaping;
using Supervisor.Runtime.Seccomp;
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
    Reaper reaper, FdBudget fds, SeccompDenials denials, CancellationToken stopping)
{
    /// <param name="command">The ExecStart line to run (Type=oneshot runs several in turn); null: the first.</param>
    /// <param name="listen">Socket activation: the listening sockets the main process gets as fds 3.., with their names.</param>
    /// <param name="connection">Accept=yes: the connection the instance serves (stdio "socket", REMOTE_ADDR, REMOTE_PORT).</param>
    public void StartMain(UnitSlot slot, UnitPlan plan, Command? command = null, IReadOnlyList<(int Fd, string Name)>? listen = null,
        AcceptedConnection? connection = null)
    {
        var main = command is null ? plan.Main! : plan.For(command);
        fds.Reserve(slot.Name);
        Interlocked.Increment(ref slot.Generation);
        var cgroup = cgroups.Prepare(slot, plan, main: true);
        slot.Oom ??= cgroup.WatchOomKills();
        slot.OomAtStart = slot.Oom.Count;
        if (plan.NotifySocket is { } socket) notify.Open(slot, socket, cgroup);
        slot.MainPlan = plan;
        slot.MainCommand = main;
        // REMOTE_ADDR and REMOTE_PORT before expansion: "$REMOTE_ADDR" in ExecStart is the peer's, as in systemd.
        var exec = WithListenFds(CommandExpansion.Prepare(WithRemote(main.ExecOrThrow, connection), main.Command, mainPid: null), listen);
        var (process, _) = Start(slot, plan, exec, phase: null, hold: true, connection);
        // A oneshot's earlier ExecStart line has exited (its exit was reported before this one was asked for).
        slot.Main?.Dispose();
        slot.Main = process;
        int pid = process.Pid;
        // With a pid namespace the helper stays as its init: the service is its child.
        int reported = process.HasInit ? process.FindServicePid() ?? pid : pid;
        sink.Post(slot.Name, new UnitEvent.MainStarted(reported));
        slot.InitReports?.Dispose();
        slot.InitReports = null;
        if (process.InitReports is { } fd)
        {
            // Type=forking under a pid-namespace init: the parent's and the daemon's exits come as the init's reports.
            var reports = new InitReports(fd, reported, (exit, of) => sink.Post(slot.Name, new UnitEvent.MainExited(exit, slot.OomKilledSinceStart, of)));
            slot.InitReports = reports;
            reaper.Watch(pid, exit =>
            {
                reports.InitExited(ThroughInit(exit, viaInit: true));
                reports.Dispose();
            }, process.PidFd);
            return;
        }
        // The process's own pidfd serves the reaper: one descriptor per unit, not two.
        // PostNow: the exit is handled on the event loop thread that reaped it, so a RestartSec=0
        // restart is decided and launched there (UnitHost.Run) with no other thread woken.
        reaper.Watch(pid, exit => sink.PostNow(slot.Name, new UnitEvent.MainExited(ThroughInit(exit, process.HasInit), slot.OomKilledSinceStart, reported)), process.PidFd);
    }

    /// <param name="mainPid">The unit's main process, given to the command as $MAINPID; null when there is none.</param>
    /// <param name="connection">Accept=yes: the connection the instance serves (every command of it gets it on a "socket" stdio, as in systemd).</param>
    public void StartControl(UnitSlot slot, UnitPlan plan, Phase phase, Command command, int? mainPid, AcceptedConnection? connection = null)
    {
        var exec = CommandExpansion.Prepare(WithRemote(plan.For(command).ExecOrThrow, connection), command, mainPid);
        fds.Reserve(slot.Name);
        cgroups.Prepare(slot, plan, main: false);
        var (process, stderr) = Start(slot, plan, exec, phase, hold: false, connection);
        int pid = process.Pid;
        process.Dispose();
        Volatile.Write(ref slot.ControlPid, pid);
        reaper.Watch(pid, exit =>
        {
            Interlocked.CompareExchange(ref slot.ControlPid, 0, pid);
            if (exit.Code == 0)
            {
                sink.PostNow(slot.Name, new UnitEvent.ControlExited(exit));
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

    /// <summary>
    /// systemd's service_build_env for a connection: REMOTE_ADDR (an IPv4-mapped address as IPv4,
    /// IPv6 without brackets) and REMOTE_PORT of an IP peer; a unix peer sets neither.
    /// </summary>
    private static ExecPlan WithRemote(ExecPlan exec, AcceptedConnection? connection)
    {
        if (connection?.Remote is not { } remote) return exec;
        var env = exec.Environment.Where(e => !e.StartsWith("REMOTE_ADDR=", StringComparison.Ordinal) && !e.StartsWith("REMOTE_PORT=", StringComparison.Ordinal))
            .Append("REMOTE_ADDR=" + AcceptedConnection.Unmapped(remote.Address))
            .Append("REMOTE_PORT=" + remote.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return exec with { Environment = [.. env] };
    }

    /// <summary>How long a failed control command's remaining output is waited for.</summary>
    private static readonly TimeSpan LastWordsWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Starts one process of the unit; returns it and the task that reads its stderr (its last line
    /// at EOF; null when stderr is not the log, or goes into the main process's kept channel).
    /// </summary>
    private (SandboxProcess Process, Task<string?> Stderr) Start(UnitSlot slot, UnitPlan plan, ExecPlan exec, Phase? phase, bool hold, AcceptedConnection? connection)
    {
        var svc = plan.Unit.Service;
        var ident = svc.SyslogIdentifier ?? Path.GetFileName(exec.Path);
        string Label(string stream) => $"{ident} {(phase is null ? stream : $"{phase}:{stream}")}";
        string key = $"{svc.EffectiveStandardOutput.Kind}|{svc.EffectiveStandardError.Kind}|{Label("stdout")}|{Label("stderr")}|{svc.SyslogLevelPrefix}";
        var kept = hold ? KeptFor(slot, svc, key) : null;
        using var stdio = StdioSetup.Open(slot.Name, svc, exec.UMask ?? SandboxSection.DefaultUMask, connection?.Fd.Fd ?? -1, kept);
        if (hold) output.Hold(slot.Name, stdio.OutRead?.SafeHandle, stdio.ErrRead?.SafeHandle);
        // Everything the run before wrote is in the channel now: its last line ends there.
        kept?.EndOfRun();
        SandboxProcess process;
        try
        {
            using (reaper.Launching())
                process = SandboxLauncher.Start(exec with { Stdio = stdio.Fds }, slot.Name, seccompReport: denials.ReportFor(slot.Name, slot.Log, exec.SeccompNotify));
        }
        catch
        {
            stdio.OutRead?.Dispose();
            stdio.ErrRead?.Dispose();
            throw;
        }
        if (exec.SeccompNotify is not null && process.SeccompListener is null)
            slot.Log.Write("supervisor", "seccomp: the exec helper did not hand over the filter's listener: this process's denied calls fail with ENOSYS and are not reported");
        // The child has its copies; ours go when stdio is disposed, or the log never sees EOF (but
        // a main process's are kept for its next run).
        var outPump = stdio.OutRead is { } outRead ? slot.Log.Pump(outRead, Label("stdout"), svc.SyslogLevelPrefix, stopping) : null;
        var errPump = stdio.ErrRead is { } errRead ? slot.Log.Pump(errRead, Label("stderr"), svc.SyslogLevelPrefix, stopping) : null;
        if (hold && kept is null && (outPump ?? errPump) is not null)
        {
            var (outWrite, errWrite) = stdio.TakeLogWriteEnds();
            slot.Output = new KeptOutput(key, outWrite, errWrite, outPump, errPump);
        }
        return (process, errPump?.Completion ?? Task.FromResult<string?>(null));
    }

    /// <summary>The main process's channels from the run before when they were made for the same labels; else none (and the old ones close).</summary>
    private static KeptOutput? KeptFor(UnitSlot slot, ServiceSection svc, string key)
    {
        bool toLog = svc.EffectiveStandardOutput.Kind == StdOutputKind.Log || svc.EffectiveStandardError.Kind == StdOutputKind.Log;
        if (slot.Output is { } kept && kept.Key == key && toLog) return kept;
        slot.Output?.Dispose();
        slot.Output = null;
        return null;
    }

    /// <summary>
    /// With a pid namespace the helper stays as the namespace's PID 1 and exits with the service's
    /// code, or 128+signal when the service was killed (an init cannot re-raise a fatal signal on itself).
    /// </summary>
    private static ExitInfo ThroughInit(ExitInfo exit, bool viaInit) =>
        viaInit && exit.Code is { } code ? ExitInfo.FromShellStatus(code) : exit;
}
