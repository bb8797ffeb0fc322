using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Cli.Interop;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision;
using Supervisor.Supervision.Logs;
using Supervisor.Supervision.Notify;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Runtime;

/// <summary>Paths and limits of one daemon instance; every path is an option so instances (and tests) can run side by side.</summary>
public sealed record DaemonOptions
{
    public required string UnitsDirectory { get; init; }
    public string StateDirectory { get; init; } = "/var/lib/supervisor";
    public string RuntimeDirectory { get; init; } = "/run/supervisor";
    /// <summary>The cgroup subtree this instance owns, under each hierarchy's root.</summary>
    public string CgroupRoot { get; init; } = "supervisor";
    public long LogMaxBytes { get; init; } = 8 * 1024 * 1024;
    /// <summary>Rotated log files kept per unit besides the current one.</summary>
    public int LogFiles { get; init; } = 2;
    /// <summary>
    /// The safety net behind inotify on the units directory (and its overflow, which reconciles at
    /// once): a stat of each unit file, a reconcile only if one changed.
    /// </summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>
    /// Full verification of every running unit (live isolation against its plan, limits against the
    /// cgroup files). Each unit is also checked when it starts, limits whenever their files are
    /// written, and everything at each reconcile that changed something; this sweep is the safety
    /// net, so it can be rare (a thousand units cost ~0.5 s of CPU per sweep).
    /// </summary>
    public TimeSpan VerifyInterval { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>
    /// Reconcile on unit file changes and on the timer. Off: only SIGHUP and `supervisor
    /// daemon-reload` apply changes, so `supervisor plan` can be reviewed first.
    /// </summary>
    public bool AutoReconcile { get; init; } = true;
    /// <summary>
    /// The system bus to serve the control API on as well: an address, "auto" (DBUS_SYSTEM_BUS_ADDRESS
    /// or /run/dbus/system_bus_socket when it exists), or "off". The private socket is always served.
    /// </summary>
    public string SystemBus { get; init; } = "auto";

    /// <summary>Where /metrics is served: "ADDRESS:PORT", or "off".</summary>
    public string MetricsListen { get; init; } = "127.0.0.1:9558";

    /// <summary>Members of this group may start and stop units over the control API, as root may.</summary>
    public string? AdminGroup { get; init; }

    public string LogDirectory => Path.Combine(StateDirectory, "logs");
    public string NotifyDirectory => Path.Combine(RuntimeDirectory, "notify");
}

/// <summary>
/// Carries out the state machines' actions against the kernel: cgroups (create with the unit's
/// slices, signal, wait for empty, remove), the sandbox launcher, log capture and the per-unit
/// sd_notify socket. Results go back to the manager as events. Nothing here decides policy.
/// </summary>
public sealed class RealHost : IUnitHost, IDisposable
{
    private sealed class UnitState(UnitLog log)
    {
        public UnitLog Log { get; } = log;
        public ICgroup? Cgroup { get; set; }
        public SandboxProcess? Main { get; set; }
        /// <summary>A main process adopted from a previous supervisor (not our child).</summary>
        public ForeignProcess? Adopted { get; set; }
        public bool MainHasInit { get; set; }
        public NotifySocket? Notify { get; set; }
        public CancellationTokenSource? NotifyStop { get; set; }
        public OomKillWatcher? Oom { get; set; }
        public ulong OomAtStart { get; set; }
        public ResourceLimits? Applied { get; set; }
        /// <summary>Writes to the files of <see cref="Applied"/>, by anyone: drift is repaired as it happens.</summary>
        public IDisposable? LimitWatch { get; set; }
        /// <summary>The declaration <see cref="Applied"/> was mapped from (value equality, unlike the limits' maps).</summary>
        public ResourcesSection? AppliedFrom { get; set; }
        /// <summary>The slices' declarations when the cgroup was made; a change rebuilds it.</summary>
        public IReadOnlyList<ResourcesSection?>? SlicesFingerprint { get; set; }
        /// <summary>Bumped at every main-process spawn; an empty-cgroup watch from an earlier run is stale.</summary>
        public long Generation;
        public long WatchingGeneration = -1;
        /// <summary>
        /// The main command's plan, compiled for this declaration, host facts and cgroup: a restart
        /// reuses it (compiling resolves users and paths and builds the seccomp program).
        /// </summary>
        public (UnitDefinition Unit, CompileContext Context, ICgroup Cgroup, ExecPlan Plan)? MainPlan;
    }

    private readonly IUnitEventSink _sink;
    private readonly DaemonOptions _options;
    private readonly ICgroupDriver _driver;
    private readonly Reaper _reaper;
    private readonly ILogger _logger;
    private readonly Func<string, UnitDefinition?> _lookup;
    private readonly ConcurrentDictionary<string, UnitState> _units = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private CompileContext _compile;

    public RealHost(IUnitEventSink sink, DaemonOptions options, ICgroupDriver driver, Reaper reaper, ILogger logger, Func<string, UnitDefinition?> lookup)
    {
        _sink = sink;
        _options = options;
        _driver = driver;
        _reaper = reaper;
        _logger = logger;
        _lookup = lookup;
        _compile = CompileContext.ForHost();
    }

    /// <summary>Keeps copies of the services' output read ends, so they survive a killed supervisor (null: none).</summary>
    public FdHolder? Holder { get; set; }

    /// <summary>Output read ends a previous supervisor left with the holder, by "UNIT:out"/"UNIT:err", for adopted units.</summary>
    public Dictionary<string, System.Net.Sockets.SafeSocketHandle> Recovered { get; set; } = new(StringComparer.Ordinal);

    private int _holderFailed;

    private void Hold(string key, System.Runtime.InteropServices.SafeHandle fd)
    {
        if (Holder is not { } holder) return;
        try
        {
            holder.Put(key, fd);
        }
        catch (IOException e)
        {
            if (Interlocked.Exchange(ref _holderFailed, 1) == 0)
                _logger.LogWarning("the fd holder is gone ({Message}): a killed supervisor's services will lose their output", e.Message);
        }
    }

    private void Unhold(string unit)
    {
        if (Holder is not { } holder) return;
        try
        {
            holder.Delete(unit + ":out");
            holder.Delete(unit + ":err");
        }
        catch (IOException) { }
    }

    /// <summary>Reads /etc/passwd and /etc/group again (a reconcile may follow a new user).</summary>
    public void RefreshHostFacts() => _compile = CompileContext.ForHost();

    private UnitState State(string unit) =>
        _units.GetOrAdd(unit, u => new UnitState(new UnitLog(_options.LogDirectory, u, _options.LogMaxBytes, _options.LogFiles)));

    /// <summary>The plan the unit's current main process was started from, when it was started by this supervisor.</summary>
    public Supervisor.Sandbox.ExecPlan? MainPlanOf(UnitDefinition unit) =>
        _units.TryGetValue(unit.Name, out var s) && s.MainPlan is { } cached && ReferenceEquals(cached.Unit, unit) ? cached.Plan : null;

    public long DroppedLogLines(string unit) => _units.TryGetValue(unit, out var s) ? s.Log.DroppedLines : 0;

    public ICgroup CgroupOf(UnitDefinition unit) => _driver.Open(CgroupPath.ForUnit(unit.Name, unit.Service.Slice));

    public void SpawnMain(UnitDefinition unit) => Run(unit, () => Spawn(unit, unit.Service.ExecStart!, main: true, phase: null));

    public void SpawnControl(UnitDefinition unit, Phase phase, Command command) => Run(unit, () => Spawn(unit, command, main: false, phase));

    /// <summary>Runs a launch on the thread pool: the helper's setup blocks until execve (or failure).</summary>
    private void Run(UnitDefinition unit, Action launch) => ThreadPool.UnsafeQueueUserWorkItem(_ =>
    {
        try
        {
            launch();
        }
        catch (Exception e) when (e is PlanCompileException or SandboxSetupException or CgroupException or HelperNotFoundException or IOException or UnauthorizedAccessException)
        {
            var message = e.Message.StartsWith(unit.Name + ":", StringComparison.Ordinal) ? e.Message : $"{unit.Name}: {e.Message}";
            Log(unit.Name, message);
            _sink.Post(unit.Name, new UnitEvent.SetupFailed(message));
        }
    }, null);

    private void Spawn(UnitDefinition unit, Command command, bool main, Phase? phase)
    {
        var state = State(unit.Name);
        if (main) Interlocked.Increment(ref state.Generation);
        var path = CgroupPath.ForUnit(unit.Name, unit.Service.Slice);
        var slices = SlicesFingerprint(path);
        ICgroup cgroup;
        if (state.Cgroup is { } kept && kept.Path.Equals(path) && Equals(state.AppliedFrom, unit.Resources) && state.SlicesFingerprint is { } was && was.SequenceEqual(slices) && kept.Exists())
        {
            // The cgroup kept from the previous run (a restart, or a control command of this run),
            // with the same declaration: nothing to create or write. Limits changed by hand meanwhile
            // are drift, repaired by the next reconcile as for a running unit.
            cgroup = kept;
        }
        else
        {
            if (state.Cgroup is { } old && !old.Path.Equals(path)) DestroyIfEmpty(unit.Name, old); // moved to another slice
            var limits = ResourceMapping.Map(unit.Resources);
            cgroup = _driver.Open(path);
            if (main && cgroup.IsPopulated() && cgroup.GetProcs() is { Count: > 0 } leftovers)
            {
                // Processes from a previous supervisor instance that were not adopted (their unit
                // file changed, or their identity did not match the state file): a second copy
                // beside them would fight over ports and files, so they are stopped first.
                Log(unit.Name, $"found {leftovers.Count} process(es) of a previous run in its cgroup ({string.Join(", ", leftovers)}); killing them before starting");
                cgroup.KillAllAsync(_stopping.Token).GetAwaiter().GetResult();
            }
            CgroupTree.CreateUnit(_driver, path, SliceLimits, limits);
            state.Cgroup = cgroup;
            state.Applied = limits;
            WatchLimits(unit.Name, state, cgroup, limits);
            state.AppliedFrom = unit.Resources;
            state.SlicesFingerprint = slices;
        }
        if (main)
        {
            state.Oom ??= cgroup.WatchOomKills();
            state.OomAtStart = state.Oom.Count;
        }

        string? notifyPath = null;
        if (main && WantsNotify(unit))
        {
            notifyPath = Path.Combine(_options.NotifyDirectory, unit.Name);
            StartNotify(unit.Name, state, notifyPath, cgroup);
        }

        var (outRead, outFd) = OutputChannel.Create();
        var (errRead, errFd) = OutputChannel.Create();
        if (main)
        {
            Hold(unit.Name + ":out", outRead.SafeHandle);
            Hold(unit.Name + ":err", errRead.SafeHandle);
        }
        SandboxProcess process;
        try
        {
            var stdio = new StdioFds(-1, outFd, errFd);
            ExecPlan plan;
            if (main && state.MainPlan is { } cached && ReferenceEquals(cached.Unit, unit) && ReferenceEquals(cached.Context, _compile) && ReferenceEquals(cached.Cgroup, cgroup))
            {
                plan = cached.Plan with { Stdio = stdio };
            }
            else
            {
                var compileContext = _compile;
                var definition = command == unit.Service.ExecStart ? unit : unit with { Service = unit.Service with { ExecStart = command } };
                var ctx = compileContext with
                {
                    CgroupProcsFiles = [.. cgroup.ProcsFiles],
                    NotifySocket = notifyPath,
                    Stdio = stdio,
                };
                plan = ExecPlanCompiler.Compile(definition, ctx);
                if (main && !unit.Service.WatchdogSec.IsInfinity && unit.Service.WatchdogSec.Microseconds > 0)
                    plan = plan with { Environment = plan.Environment.Add($"WATCHDOG_USEC={unit.Service.WatchdogSec.Microseconds.ToString(CultureInfo.InvariantCulture)}") };
                if (main) state.MainPlan = (unit, compileContext, cgroup, plan);
            }
            using (_reaper.Launching())
                process = SandboxLauncher.Start(plan, unit.Name);
        }
        finally
        {
            // The child has its copies (or failed); ours must go, or the log never sees EOF.
            OutputChannel.CloseChildEnd(outFd);
            OutputChannel.CloseChildEnd(errFd);
        }
        _ = state.Log.PumpAsync(outRead, phase is null ? "stdout" : $"{phase}:stdout", _stopping.Token);
        _ = state.Log.PumpAsync(errRead, phase is null ? "stderr" : $"{phase}:stderr", _stopping.Token);

        int pid = process.Pid;
        if (main)
        {
            state.Main = process;
            state.MainHasInit = process.HasInit;
            int reported = process.HasInit ? process.FindServicePid() ?? pid : pid;
            _sink.Post(unit.Name, new UnitEvent.MainStarted(reported));
            _reaper.Watch(pid, exit => _sink.Post(unit.Name, new UnitEvent.MainExited(Decode(exit, process.HasInit), OomKilledSinceStart(state), reported)));
        }
        else
        {
            process.Dispose();
            _reaper.Watch(pid, exit => _sink.Post(unit.Name, new UnitEvent.ControlExited(Decode(exit, false))));
        }
    }

    /// <summary>
    /// With a pid namespace the helper stays as the namespace's PID 1 and exits with the service's
    /// code, or 128+signal when the service was killed (an init cannot re-raise a fatal signal on itself).
    /// </summary>
    private static ExitInfo Decode(ExitInfo exit, bool viaInit) =>
        viaInit && exit.Code is > 128 and < 128 + 65 ? ExitInfo.Killed(exit.Code.Value - 128) : exit;

    private static bool OomKilledSinceStart(UnitState state) => state.Oom is { } w && w.Count > state.OomAtStart;

    /// <summary>The [Resources] of every slice above the unit, so a changed slice is noticed at the next start.</summary>
    private ResourcesSection?[] SlicesFingerprint(CgroupPath unitPath) =>
        [.. unitPath.Ancestors.Select(p => _lookup(p.Segments[^1]) is { Kind: UnitKind.Slice } slice ? slice.Resources : null)];

    private ResourceLimits SliceLimits(CgroupPath slicePath)
    {
        var name = slicePath.Segments[^1];
        return _lookup(name) is { Kind: UnitKind.Slice } slice ? ResourceMapping.Map(slice.Resources) : ResourceLimits.None;
    }

    /// <summary>
    /// As systemd (NotifyAccess=main by default only for Type=notify and with a watchdog): other
    /// services get no NOTIFY_SOCKET, so a thousand simple services cost no sockets and no files.
    /// </summary>
    private static bool WantsNotify(UnitDefinition unit) =>
        unit.Service.Type == ServiceType.Notify || (!unit.Service.WatchdogSec.IsInfinity && unit.Service.WatchdogSec.Microseconds > 0);

    private void StartNotify(string unit, UnitState state, string path, ICgroup cgroup)
    {
        if (state.Notify is not null) return;
        var socket = new NotifySocket(path);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        state.Notify = socket;
        state.NotifyStop = stop;
        _ = socket.RunAsync(
            pid => InCgroup(pid, cgroup),
            (m, pid) => OnNotify(unit, m),
            rejected => Log(unit, rejected),
            stop.Token);
    }

    /// <summary>Only processes of the unit's own cgroup are believed (systemd's NotifyAccess=all, scoped by cgroup).</summary>
    private static bool InCgroup(int pid, ICgroup cgroup)
    {
        try
        {
            var procs = cgroup.GetProcs();
            return procs.Contains(pid);
        }
        catch (CgroupException)
        {
            return false;
        }
    }

    private void OnNotify(string unit, NotifyMessage m)
    {
        if (m.MainPid is { } pid) _sink.Post(unit, new UnitEvent.MainPidChanged(pid));
        if (m.Ready) _sink.Post(unit, new UnitEvent.Ready());
        if (m.Watchdog) _sink.Post(unit, new UnitEvent.WatchdogPing());
        if (m.WatchdogTrigger) _sink.Post(unit, new UnitEvent.WatchdogTrigger());
        if (m.ExtendTimeoutUsec is { } ext) _sink.Post(unit, new UnitEvent.ExtendTimeout(TimeSpan.FromMicroseconds(ext)));
        if (m.Status is { } status) Log(unit, $"status: {status}");
        if (m.Stopping) Log(unit, "service says it is stopping");
        if (m.Errno is { } errno) Log(unit, $"service reports errno {errno}");
    }

    public void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid)
    {
        var state = State(unit.Name);
        if (target == SignalTarget.Main)
        {
            // Through the pidfd: the pid cannot have been reused. With an init, it forwards the signal.
            if (state.Main is { } main) main.Signal(signo);
            else if (state.Adopted is { } adopted) adopted.Signal(signo);
            else if (mainPid is { } p) ProcessCalls.Signal(p, signo);
            return;
        }
        var cgroup = state.Cgroup ?? CgroupOf(unit);
        try
        {
            // After the main process exited this is the common case: nothing left to signal.
            if (!cgroup.IsPopulated()) return;
        }
        catch (CgroupException e)
        {
            Log(unit.Name, $"cannot tell whether processes remain: {e.Message}");
        }
        if (signo == 9)
        {
            _ = cgroup.KillAllAsync(_stopping.Token).ContinueWith(t =>
            {
                if (t.Exception is { } ex) Log(unit.Name, $"kill-all failed: {ex.InnerException?.Message}");
            }, TaskScheduler.Default);
            return;
        }
        try
        {
            foreach (var pid in cgroup.GetProcs())
                ProcessCalls.Signal(pid, signo); // ESRCH: it exited meanwhile, which is what we wanted
        }
        catch (CgroupException e)
        {
            Log(unit.Name, $"cannot list processes to signal: {e.Message}");
        }
    }

    public void WatchCgroupEmpty(UnitDefinition unit)
    {
        var state = State(unit.Name);
        var cgroup = state.Cgroup ?? CgroupOf(unit);
        long generation = Interlocked.Read(ref state.Generation);
        // The machine may ask twice in one stop (kill phase, then the main exit): one watch is enough.
        if (Interlocked.Exchange(ref state.WatchingGeneration, generation) == generation) return;
        if (!cgroup.Exists())
        {
            _sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
            return;
        }
        void Empty()
        {
            // A new run began meanwhile (a restart): its handles are not this run's.
            if (Interlocked.Read(ref state.Generation) != generation) return;
            CleanUp(state);
            Interlocked.CompareExchange(ref state.WatchingGeneration, -1, generation);
            _sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
        }
        var wait = cgroup.WaitForEmptyAsync(_stopping.Token);
        // Usually the main process was the last one and is reaped already: no hop through the pool.
        if (wait.IsCompletedSuccessfully) Empty();
        else _ = wait.ContinueWith(t =>
        {
            if (!t.IsCanceled) Empty();
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// After the last process: the run's process handles go. The cgroup, the OOM watch and the
    /// notify socket stay for a restart; <see cref="Release"/> removes them when the unit is down for good.
    /// </summary>
    private static void CleanUp(UnitState state)
    {
        state.Main?.Dispose();
        state.Main = null;
        state.Adopted?.Dispose();
        state.Adopted = null;
    }

    public void Release(UnitDefinition unit)
    {
        if (!_units.TryGetValue(unit.Name, out var state)) return;
        state.NotifyStop?.Cancel();
        state.Notify?.Dispose();
        state.Notify = null;
        state.NotifyStop = null;
        state.Oom?.Dispose();
        state.Oom = null;
        state.LimitWatch?.Dispose();
        state.LimitWatch = null;
        Unhold(unit.Name);
        if (state.Cgroup is { } cgroup)
        {
            // Processes left on purpose (KillMode=process or none, SendSIGKILL=no) keep it alive;
            // the next start of the unit finds them and deals with them.
            if (DestroyIfEmpty(unit.Name, cgroup)) state.Cgroup = null;
        }
        state.Applied = null;
        state.AppliedFrom = null;
        state.SlicesFingerprint = null;
    }

    private bool DestroyIfEmpty(string unit, ICgroup cgroup)
    {
        try
        {
            if (!cgroup.Exists()) return true;
            if (cgroup.GetProcs().Count > 0) return false;
            cgroup.Destroy();
            return true;
        }
        catch (CgroupException e)
        {
            Log(unit, $"cannot remove cgroup: {e.Message}");
            return false;
        }
    }

    public void FindMainPid(UnitDefinition unit) => ThreadPool.UnsafeQueueUserWorkItem(_ =>
    {
        var state = State(unit.Name);
        int? pid = null;
        if (unit.Service.PIDFile is { } pidFile)
        {
            // The daemon writes it just before or after its parent exits; give it a moment.
            for (int i = 0; i < 50 && pid is null; i++)
            {
                try
                {
                    if (int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 1) pid = p;
                }
                catch (IOException) { }
                if (pid is null) Thread.Sleep(100);
            }
        }
        if (pid is null && state.Cgroup is { } cg)
        {
            var procs = cg.GetProcs();
            if (procs.Count == 1) pid = procs[0];
        }
        if (pid is null)
        {
            _sink.Post(unit.Name, new UnitEvent.SetupFailed($"{unit.Name}: cannot find the daemon's main process (PIDFile {(unit.Service.PIDFile ?? "not set")}, and the cgroup does not hold exactly one process)"));
            return;
        }
        _sink.Post(unit.Name, new UnitEvent.MainPidChanged(pid.Value));
        // The daemon double-forked, so it was reparented to us (child subreaper): the reaper sees its exit.
        _reaper.Watch(pid.Value, exit => _sink.Post(unit.Name, new UnitEvent.MainExited(exit, OomKilledSinceStart(state), pid.Value)));
    }, null);

    public void ApplyResources(UnitDefinition unit)
    {
        var state = State(unit.Name);
        var limits = ResourceMapping.Map(unit.Resources);
        var cgroup = state.Cgroup ?? CgroupOf(unit);
        if (!cgroup.Exists())
        {
            state.Applied = limits;
            return;
        }
        try
        {
            // The new values count as applied before they are written: the write raises the limit
            // watch, whose check must compare with them, not call them drift.
            var previous = state.Applied;
            state.Applied = limits;
            state.AppliedFrom = unit.Resources;
            WatchLimits(unit.Name, state, cgroup, limits);
            foreach (var change in cgroup.Apply(limits, previous))
                Log(unit.Name, $"applied live: {change.Key} {change.Old} → {change.New} ({change.File})");
        }
        catch (CgroupException e)
        {
            Log(unit.Name, $"cannot apply resource limits live: {e.Message}");
        }
    }

    /// <summary>Drift repaired as it happened (a limit file written by hand), for the metrics.</summary>
    public event Action<string, IReadOnlyList<LimitDrift>>? DriftRepaired;

    private void WatchLimits(string unit, UnitState state, ICgroup cgroup, ResourceLimits limits)
    {
        state.LimitWatch?.Dispose();
        state.LimitWatch = null;
        try
        {
            state.LimitWatch = cgroup.WatchLimitWrites(limits, () => OnLimitWritten(unit));
        }
        catch (CgroupException e)
        {
            Log(unit, $"cannot watch its limit files ({e.Message}); a limit changed by hand is put back at the next reconcile instead");
        }
    }

    /// <summary>
    /// A limit file was written (by us, or by hand): whatever no longer holds the value this host
    /// applied is put back. Compared with what was applied, not with the newest declaration: a
    /// reconcile that is about to apply a changed value live is not drift.
    /// </summary>
    private void OnLimitWritten(string unit)
    {
        if (!_units.TryGetValue(unit, out var state) || state.Cgroup is not { } cgroup || state.Applied is not { } applied) return;
        try
        {
            var drift = cgroup.CheckDrift(applied);
            if (drift.Count == 0) return;
            cgroup.Repair(applied);
            foreach (var d in drift) Log(unit, $"drift repaired: {d.Key} was {d.Found} in {d.File}, declared {d.Declared}");
            DriftRepaired?.Invoke(unit, drift);
        }
        catch (CgroupException e)
        {
            Log(unit, $"drift check failed: {e.Message}");
        }
    }

    /// <summary>Declared limits that the cgroup files no longer hold (changed by hand): found and written back.</summary>
    public IReadOnlyList<LimitDrift> RepairDrift(UnitDefinition unit)
    {
        if (!_units.TryGetValue(unit.Name, out var state) || state.Cgroup is not { } cgroup || !cgroup.Exists()) return [];
        var limits = ResourceMapping.Map(unit.Resources);
        try
        {
            var drift = cgroup.CheckDrift(limits);
            if (drift.Count > 0)
            {
                cgroup.Repair(limits);
                foreach (var d in drift) Log(unit.Name, $"drift repaired: {d.Key} was {d.Found} in {d.File}, declared {d.Declared}");
            }
            return drift;
        }
        catch (CgroupException e)
        {
            Log(unit.Name, $"drift check failed: {e.Message}");
            return [];
        }
    }

    public void Adopt(UnitDefinition unit, int mainPid)
    {
        var state = State(unit.Name);
        Interlocked.Increment(ref state.Generation);
        var cgroup = CgroupOf(unit);
        state.Cgroup = cgroup;
        state.Applied = ResourceMapping.Map(unit.Resources);
        state.AppliedFrom = unit.Resources;
        WatchLimits(unit.Name, state, cgroup, state.Applied);
        state.Oom ??= cgroup.WatchOomKills();
        state.OomAtStart = state.Oom.Count;
        // The service keeps its NOTIFY_SOCKET path: binding it again makes its sd_notify heard.
        if (WantsNotify(unit)) StartNotify(unit.Name, state, Path.Combine(_options.NotifyDirectory, unit.Name), cgroup);
        try
        {
            var process = ForeignProcess.Open(mainPid);
            state.Adopted = process;
            // Not our child: the exit status cannot be collected, only that it is gone.
            process.OnExit(() => _sink.Post(unit.Name, new UnitEvent.MainExited(ExitInfo.Exited(255), OomKilledSinceStart(state), mainPid)));
            // Its output waited with the fd holder: read on from where the previous supervisor stopped.
            bool captured = false;
            if (Recovered.Remove(unit.Name + ":out", out var outFd) && Recovered.Remove(unit.Name + ":err", out var errFd))
            {
                _ = state.Log.PumpAsync(new System.Net.Sockets.Socket(outFd), "stdout", _stopping.Token);
                _ = state.Log.PumpAsync(new System.Net.Sockets.Socket(errFd), "stderr", _stopping.Token);
                captured = true;
            }
            Log(unit.Name, $"adopted main process {mainPid} left running by a previous supervisor (its exit status will not be known; " +
                (captured ? "its output is captured again, including what it wrote meanwhile)" : "its output is not captured until it restarts: there was no fd holder)"));
        }
        catch (IOException e)
        {
            Log(unit.Name, $"cannot adopt process {mainPid}: {e.Message}");
            _sink.Post(unit.Name, new UnitEvent.MainExited(ExitInfo.Exited(255), false, mainPid));
        }
    }

    public void Log(string unit, string message)
    {
        State(unit).Log.Write("supervisor", message);
        _logger.LogInformation("{Unit}: {Message}", unit, message);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var s in _units.Values)
        {
            s.Notify?.Dispose();
            s.Oom?.Dispose();
            s.LimitWatch?.Dispose();
            s.Log.Dispose();
        }
    }
}
