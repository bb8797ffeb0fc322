using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Linux;
using Supervisor.Runtime.Adoption;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Conditions;
using Supervisor.Runtime.Credentials;
using Supervisor.Runtime.Directories;
using Supervisor.Runtime.Health;
using Supervisor.Runtime.Process;
using Supervisor.Runtime.Launch;
using Supervisor.Runtime.Notify;
using Supervisor.Runtime.Output;
using Supervisor.Runtime.Planning;
using Supervisor.Runtime.Reaping;
using Supervisor.Runtime.Seccomp;
using Supervisor.Runtime.Sockets;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision;
using Supervisor.Supervision.Logs;
using Supervisor.Supervision.Notify;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Host;

/// <summary>
/// The state machines' effects, carried out against the kernel: each call is handed to the
/// mechanism that does it (launcher, cgroup lifecycle, notify endpoints, adoption, output keeper)
/// with the unit's <see cref="UnitPlan"/>. Outcomes go back to the manager as events. Nothing here
/// decides policy.
/// </summary>
public sealed class UnitHost : IUnitHost, IDisposable
{
    private readonly IUnitEventSink _sink;
    private readonly DaemonOptions _options;
    private readonly ILogger _logger;
    private readonly Func<string, UnitDefinition?> _lookup;
    private readonly ConcurrentDictionary<string, UnitSlot> _units = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly UnitPlanner _planner;
    private readonly CgroupLifecycle _cgroups;
    private readonly NotifyEndpoints _notify;
    private readonly Launcher _launcher;
    private readonly LaunchQueue _launches = new();
    private readonly MainPidFinder _forking;
    private readonly Adopter _adopter;
    private readonly UnitIdentities _identities;
    private readonly UnitDirectories _directories;
    private readonly LogRateLimiter _rateLimit = new(TimeProvider.System);
    private readonly ConditionChecker _conditions = new();
    private readonly BusNameWatcher _busNames;
    private readonly ProbeRunner _probes;
    private CompileContext _compile;

    /// <param name="lookup">The current definition of any unit by name (for slices).</param>
    /// <param name="compile">The host facts plans are compiled with; null: detected from this host.</param>
    /// <param name="fds">The daemon's file descriptor budget; null: this process's RLIMIT_NOFILE.</param>
    public UnitHost(IUnitEventSink sink, DaemonOptions options, ICgroupDriver driver, Reaper reaper, ILogger logger,
        Func<string, UnitDefinition?> lookup, CompileContext? compile = null, FdBudget? fds = null)
    {
        _sink = sink;
        _options = options;
        _logger = logger;
        _lookup = lookup;
        _compile = compile ?? CompileContext.ForHost();
        _planner = new UnitPlanner(driver, options.NotifyDirectory);
        _cgroups = new CgroupLifecycle(driver, Log, _stopping.Token);
        _cgroups.DriftRepaired += (unit, drift) => DriftRepaired?.Invoke(unit, drift);
        _notify = new NotifyEndpoints(sink, Log, _stopping.Token);
        Held = new HeldFds(logger);
        Output = new OutputKeeper(Held);
        Sockets = new ListeningSockets(Held);
        FdStores = new FdStores(Held, Log);
        fds ??= FdBudget.ForThisProcess();
        Denials = new SeccompDenials(options.StateDirectory, TimeProvider.System);
        _launcher = new Launcher(sink, _cgroups, _notify, Output, reaper, fds, Denials, _stopping.Token);
        _probes = new ProbeRunner(sink, new ExecProbe(_cgroups, reaper, fds), _stopping.Token);
        _probes.Ran += (unit, role, ok, seconds) => ProbeRan?.Invoke(unit, role, ok, seconds);
        _forking = new MainPidFinder(sink, reaper, Log);
        _adopter = new Adopter(sink, _cgroups, _notify, Output, Log, _stopping.Token);
        _directories = new UnitDirectories(Log);
        _busNames = new BusNameWatcher(sink, Log, BusNameWatcher.Resolve(options.SystemBus), _stopping.Token);
        var ipc = new IpcObjects();
        _identities = new UnitIdentities(new DynamicUsers(options.StateDirectory, ipc,
            cause => logger.LogWarning("{File} is damaged ({Cause}): no dynamic user is remembered", DynamicUsers.FileName, cause)), ipc, Log);
    }

    /// <summary>The units' seccomp denials (and what learn mode recorded), as their filters' listeners report them.</summary>
    public SeccompDenials Denials { get; }

    /// <summary>DynamicUser pairs and RemoveIPC: who each unit runs as.</summary>
    public UnitIdentities Identities => _identities;

    /// <summary>The socket units' listening sockets (socket activation).</summary>
    public ListeningSockets Sockets { get; }

    /// <summary>The connections of the Accept=yes socket units, by the instance each started.</summary>
    public AcceptedConnections Connections { get; } = new();

    /// <summary>LISTEN_FDNAMES of a connection passed as fd 3, as systemd names it.</summary>
    public const string ConnectionFdName = "connection";

    /// <summary>The services' fd stores (sd_notify FDSTORE=1, FileDescriptorStoreMax).</summary>
    public FdStores FdStores { get; }

    /// <summary>The fd holder: what outlives a killed supervisor (output, listening sockets, fd stores).</summary>
    internal HeldFds Held { get; }

    /// <summary>Keeps the services' output read ends across a killed supervisor.</summary>
    internal OutputKeeper Output { get; }

    /// <summary>Drift repaired (a limit file written by hand, or found by the sweep), for the metrics.</summary>
    public event Action<string, IReadOnlyList<LimitDrift>>? DriftRepaired;

    /// <summary>A [Health] probe ran: unit, probe, success, seconds (for the metrics' duration histogram).</summary>
    public event Action<string, ProbeRole, bool, double>? ProbeRan;

    /// <summary>Reads /etc/passwd and /etc/group again (a reconcile may follow a new user): plans are made anew.</summary>
    public void RefreshHostFacts() => _compile = CompileContext.ForHost() with { UserNamespaceBase = _compile.UserNamespaceBase };

    private UnitSlot Slot(string unit) =>
        _units.GetOrAdd(unit, u => new UnitSlot(u, new UnitLog(_options.LogDirectory, u, _options.LogMaxBytes, _options.LogFiles)));

    /// <summary>
    /// The unit's plan: the one its current run was started from while the definition, its slices
    /// and the host facts are unchanged, else compiled anew.
    /// </summary>
    public UnitPlan PlanOf(UnitDefinition unit) => PlanOf(unit, allocate: false);

    /// <param name="allocate">A process is about to start: a DynamicUser unit gets its uid now if it holds none.</param>
    private UnitPlan PlanOf(UnitDefinition unit, bool allocate)
    {
        var slot = Slot(unit.Name);
        var context = _identities.ContextFor(unit, _compile, allocate);
        if (slot.Plan is { } plan && IsCurrent(plan, unit, context)) return plan;
        plan = _planner.Plan(unit, context, _lookup);
        slot.Plan = plan;
        return plan;
    }

    /// <summary>Same definition, slices and context (the host facts, and the unit's dynamic uid, compared by value).</summary>
    private bool IsCurrent(UnitPlan plan, UnitDefinition unit, CompileContext context) =>
        (ReferenceEquals(plan.Unit, unit) || plan.Unit == unit) && (ReferenceEquals(plan.Context, context) || plan.Context == context)
        && UnitPlanner.SlicesUnchanged(plan, _lookup);

    /// <summary>The plan the unit's current main process was started from, when this supervisor started it.</summary>
    public ExecPlan? MainPlanOf(UnitDefinition unit) =>
        _units.TryGetValue(unit.Name, out var s) && s.MainPlan is { } plan && ReferenceEquals(plan.Unit, unit) ? (s.MainCommand ?? plan.Main)?.Exec : null;

    public long DroppedLogLines(string unit) => _units.TryGetValue(unit, out var s) ? s.Log.DroppedLines : 0;

    public ICgroup CgroupOf(UnitDefinition unit) => _cgroups.Open(UnitPlanner.CgroupPathOf(unit));

    public void SpawnMain(UnitDefinition unit, Command? command = null) => Run(unit, () =>
    {
        if (unit.Kind == UnitKind.Socket)
        {
            // A socket unit's "main" is its bound sockets; it has no process.
            if (Sockets.Bind(unit) is > 0 and var taken)
                Log(unit.Name, $"listening on {taken} socket(s) a previous supervisor left in the fd holder: the same sockets, so connections made meanwhile wait in them");
            _sink.Post(unit.Name, new UnitEvent.MainStarted(0));
            return;
        }
        var plan = PlanOf(unit, allocate: true);
        var main = command is null ? plan.Main : plan.For(command);
        _identities.Started(unit.Name, main?.Exec?.Identity);
        // A later ExecStart line of a oneshot (command not null) is never the first command of a start.
        _directories.BeforeCommand(unit, main!.ExecOrThrow, command is null && UnitDirectories.IsFirstOfStart(unit, startPre: false, null));
        // systemd's order: the socket units' descriptors, then the stored ones; a connection's
        // instance gets only its connection (service_collect_fds), as fd 3 unless it is on stdio.
        var connection = Connections.Of(unit.Name);
        IReadOnlyList<(int, string)> listen = connection is null ? [.. Sockets.For(unit), .. FdStores.For(unit.Name)]
            : unit.Service.UsesConnectionOnStdio ? [] : [(connection.Fd.Fd, ConnectionFdName)];
        _launcher.StartMain(Slot(unit.Name), plan, command, listen, connection);
    });

    public void SpawnControl(UnitDefinition unit, Phase phase, Command command, int? mainPid = null) => Run(unit, () =>
    {
        var plan = PlanOf(unit, allocate: true);
        _identities.Started(unit.Name, plan.For(command).Exec?.Identity);
        // Owned by the unit's user even before a command that runs as root ("+"), as in systemd: ExecStart's identity.
        _directories.BeforeCommand(unit, plan.Main?.Exec ?? plan.For(command).ExecOrThrow, UnitDirectories.IsFirstOfStart(unit, phase == Phase.StartPre, command));
        _launcher.StartControl(Slot(unit.Name), plan, phase, command, mainPid, Connections.Of(unit.Name));
    });

    /// <summary>
    /// Runs a launch on a launch thread (<see cref="LaunchQueue"/>): the helper's setup blocks until
    /// execve (or failure). A warm restart asked for on the event loop thread (the manager ran there
    /// on the reaped exit, <see cref="IUnitEventSink.PostNow"/>) is launched right there: no thread is
    /// woken between the exit and the helper's spawn, and the loop is held for the helper's setup
    /// only, as nothing is compiled and no cgroup is made.
    /// </summary>
    private void Run(UnitDefinition unit, Action launch)
    {
        if (EventLoop.Shared.OnLoopThread && IsWarm(unit)) Launch(unit, launch);
        else _launches.Enqueue(() => Launch(unit, launch));
    }

    /// <summary>The unit's plan is current (same definition) and its cgroup kept from the run before, with the same limits.</summary>
    private bool IsWarm(UnitDefinition unit) =>
        _units.TryGetValue(unit.Name, out var slot) && slot.Plan is { } plan && ReferenceEquals(plan.Unit, unit)
        && slot.Cgroup is { } cgroup && cgroup.Path.Equals(plan.Cgroup) && Equals(slot.AppliedFrom, unit.Resources) && slot.Main is null;

    private void Launch(UnitDefinition unit, Action launch)
    {
        try
        {
            launch();
        }
        // ArgumentException: a plan over the helper's limits, known only at start (EnvironmentFile
        // contents, the user's groups): that unit fails, the daemon goes on.
        catch (Exception e) when (e is PlanCompileException or SandboxSetupException or CgroupException or HelperNotFoundException
            or IOException or UnauthorizedAccessException or ArgumentException)
        {
            var message = e.Message.StartsWith(unit.Name + ":", StringComparison.Ordinal) ? e.Message : $"{unit.Name}: {e.Message}";
            Log(unit.Name, message);
            _sink.Post(unit.Name, new UnitEvent.SetupFailed(message));
        }
    }

    public void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid)
    {
        if (unit.Kind == UnitKind.Socket) return;
        var slot = Slot(unit.Name);
        if (target == SignalTarget.Main)
        {
            // Through the pidfd: the pid cannot have been reused. With an init, it forwards the signal.
            if (slot.Main is { } main) main.Signal(signo);
            else if (slot.Adopted is { } adopted) adopted.Signal(signo);
            else if (mainPid is { } p) ProcessControl.Signal(p, signo);
            return;
        }
        SignalCgroup(unit.Name, slot.Cgroup ?? CgroupOf(unit), signo);
    }

    private void SignalCgroup(string unit, ICgroup cgroup, int signo)
    {
        try
        {
            // After the main process exited this is the common case: nothing left to signal.
            if (!cgroup.IsPopulated()) return;
            if (signo == 9)
            {
                _ = cgroup.KillAllAsync(_stopping.Token).ContinueWith(t =>
                {
                    if (t.Exception is { } ex) Log(unit, $"kill-all failed: {ex.InnerException?.Message}");
                }, TaskScheduler.Default);
                return;
            }
            foreach (var pid in cgroup.GetProcs())
                ProcessControl.Signal(pid, signo); // ESRCH: it exited meanwhile, which is what we wanted
        }
        catch (CgroupException e)
        {
            Log(unit, $"cannot signal its processes: {e.Message}");
        }
    }

    public void WatchCgroupEmpty(UnitDefinition unit)
    {
        if (unit.Kind == UnitKind.Socket)
        {
            _sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
            return;
        }
        var slot = Slot(unit.Name);
        long generation = Interlocked.Read(ref slot.Generation);
        // The machine may ask twice in one stop (kill phase, then the main exit): one watch is enough.
        if (Interlocked.Exchange(ref slot.WatchingGeneration, generation) == generation) return;
        _cgroups.WhenEmpty(slot.Cgroup ?? CgroupOf(unit), () =>
        {
            // A new run began meanwhile (a restart): its handles are not this run's.
            if (Interlocked.Read(ref slot.Generation) != generation) return;
            slot.EndRun();
            Interlocked.CompareExchange(ref slot.WatchingGeneration, -1, generation);
            _sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
        });
    }

    public void Release(UnitDefinition unit)
    {
        if (unit.Kind == UnitKind.Socket)
        {
            Sockets.Close(unit);
            return;
        }
        // The instance's service had its own copy; ours goes now, and the connection no longer counts.
        Connections.Release(unit.Name);
        if (!_units.TryGetValue(unit.Name, out var slot)) return;
        NotifyEndpoints.Close(slot);
        slot.CloseOutput();
        Output.Release(unit.Name);
        FdStores.Release(unit.Name);
        _cgroups.Release(slot);
        _identities.Stopped(unit, empty: slot.Cgroup is null);
        _directories.Released(unit);
    }

    /// <summary>Condition*/Assert*: read the system on the thread pool (a path on a hung NFS mount must not stop the manager), report ConditionsChecked.</summary>
    public void CheckConditions(UnitDefinition unit) => ThreadPool.UnsafeQueueUserWorkItem(_ =>
    {
        var (conditions, asserts) = _conditions.Check(unit);
        _sink.Post(unit.Name, new UnitEvent.ConditionsChecked(conditions, asserts));
    }, null);

    public void WatchBusName(UnitDefinition unit) => _busNames.Watch(Slot(unit.Name), unit);

    /// <summary>
    /// An exec probe runs from the plan the main process was started from (its sandbox exactly),
    /// or, when that plan predates the probe's command (a reload changed it) or the process was
    /// adopted, from the unit's current plan.
    /// </summary>
    public void RunProbe(UnitDefinition unit, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid)
    {
        var slot = Slot(unit.Name);
        _probes.Run(slot, () => slot.MainPlan is { } running && probe.Command is { } c && running.Control.Any(p => p.Command == c) ? running : PlanOf(unit),
            role, probe, epoch, mainPid, ownNetwork: unit.Sandbox.EffectiveNamespaces.HasFlag(Namespaces.Net) || unit.Sandbox.NetworkNamespacePath is not null);
    }

    public void StoreFds(UnitDefinition unit, FdStoreRequest request) => FdStores.Apply(unit, request);

    public void FindMainPid(UnitDefinition unit) => _forking.Find(Slot(unit.Name), unit);

    public void ApplyResources(UnitDefinition unit) => _cgroups.ApplyLive(Slot(unit.Name), PlanOf(unit));

    /// <summary>Limits the cgroup files no longer hold (changed by hand): found and written back.</summary>
    public IReadOnlyList<LimitDrift> RepairDrift(UnitDefinition unit) =>
        _units.TryGetValue(unit.Name, out var slot) ? _cgroups.Repair(slot) : [];

    public void Adopt(UnitDefinition unit, int mainPid)
    {
        _identities.Adopted(unit, mainPid, _compile);
        _adopter.Adopt(Slot(unit.Name), PlanOf(unit), mainPid);
    }

    /// <summary>The uid and gid the unit's processes run as while it is up (its dynamic pair for DynamicUser); null when it is down.</summary>
    public (uint Uid, uint Gid)? IdentityOf(string unit) => _identities.RunningAs(unit);

    /// <summary>
    /// A line for the unit's log, always, and for the daemon's own log within the unit's rate limit
    /// (journald's LogRateLimitIntervalSec/Burst: a crash-looping unit cannot flood the daemon's log).
    /// </summary>
    public void Log(string unit, string message)
    {
        var slot = Slot(unit);
        message = _notify.Explain(slot, message);
        slot.Log.Write("supervisor", message);
        if (!_rateLimit.TryAcquire(unit, out var suppressed)) return;
        if (suppressed > 0) _logger.LogWarning("{Message}", LogRateLimiter.SuppressedMessage(unit, suppressed));
        _logger.LogInformation("{Unit}: {Message}", unit, message);
    }

    /// <summary>
    /// Units the manager no longer has: their rate limit and, once nothing of theirs runs, their
    /// log handle go (the log files stay, for `supervisor logs`).
    /// </summary>
    public void ForgetAllBut(IReadOnlyDictionary<string, UnitStatus> known)
    {
        foreach (var (unit, slot) in _units)
        {
            if (known.ContainsKey(unit)) continue;
            _rateLimit.Forget(unit);
            Denials.Forget(unit);
            if (slot.Main is null && slot.Adopted is null && slot.Cgroup is null && _units.TryRemove(unit, out _)) slot.Dispose();
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var s in _units.Values) s.Dispose();
        Sockets.Dispose();
        Connections.Dispose();
    }
}
