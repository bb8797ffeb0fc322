using System.Collections.Immutable;
using System.Threading.Channels;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>Where the manager's events come from: the host reports process starts, exits and cgroup events here.</summary>
public interface IUnitEventSink
{
    void Post(string unit, UnitEvent e);

    /// <summary>
    /// <see cref="Post"/> for a caller that may run the manager itself: when the manager is idle
    /// (nothing queued, nobody processing), the event is handled on the caller's thread, with what
    /// it leads to (a RestartSec=0 restart), instead of waking another thread to do it.
    /// </summary>
    void PostNow(string unit, UnitEvent e) => Post(unit, e);
}

/// <summary>
/// The effects the state machines ask for, carried out against the real kernel (sandbox
/// launcher, cgroup driver) by the daemon, or recorded by a fake in tests. Every call returns at
/// once; outcomes come back as events through the <see cref="IUnitEventSink"/>.
/// </summary>
public interface IUnitHost
{
    /// <summary>Start the main process; report MainStarted (after execve) or SetupFailed, later MainExited.</summary>
    void SpawnMain(UnitDefinition unit, Command? command = null);
    /// <summary>Run one control command in the unit's sandbox and cgroup; report ControlExited.</summary>
    /// <param name="mainPid">The main process, for $MAINPID (ExecStartPost, ExecReload, ExecStop …); null when there is none.</param>
    void SpawnControl(UnitDefinition unit, Phase phase, Command command, int? mainPid = null);
    void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid);
    /// <summary>Report CgroupEmpty once no process of the unit is left (at once if none is).</summary>
    void WatchCgroupEmpty(UnitDefinition unit);
    /// <summary>Type=forking: find the daemon's PID and report MainPidChanged (or SetupFailed).</summary>
    void FindMainPid(UnitDefinition unit);
    /// <summary>Write changed resource limits to the running unit's cgroup (and its slices).</summary>
    void ApplyResources(UnitDefinition unit);
    /// <summary>A line for the unit's log.</summary>
    void Log(string unit, string message);
    /// <summary>Check the unit's Condition* and Assert* lists against this host and report ConditionsChecked.</summary>
    void CheckConditions(UnitDefinition unit);
    /// <summary>Type=dbus: report Ready once the unit's BusName has an owner on the system bus, SetupFailed when no system bus is reachable.</summary>
    void WatchBusName(UnitDefinition unit);
    /// <summary>
    /// [Health]: run the probe once (exec in the unit's sandbox and cgroup as its user; http/tcp on
    /// loopback in the unit's network namespace) within its TimeoutSec and report ProbeResult with <paramref name="epoch"/>.
    /// </summary>
    void RunProbe(UnitDefinition unit, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid);

    /// <summary>
    /// sd_notify FDSTORE=1 / FDSTOREREMOVE=1 from a sender NotifyAccess admits: keep the descriptors
    /// (up to FileDescriptorStoreMax) for the unit's next main processes, or drop those of a name.
    /// The host owns <paramref name="request"/> from here.
    /// </summary>
    void StoreFds(UnitDefinition unit, Notify.FdStoreRequest request);

    /// <summary>
    /// The unit is down for good (inactive or failed, no restart pending): remove its cgroup once
    /// empty, close its notify socket and its fd store. Between a crash and its automatic restart both are kept,
    /// so a restart costs no cgroup teardown and rebuild.
    /// </summary>
    void Release(UnitDefinition unit);

    /// <summary>
    /// Take over a main process left running by a previous supervisor (it is not our child):
    /// report its exit as MainExited, signal it through a pidfd, watch its cgroup as usual.
    /// </summary>
    void Adopt(UnitDefinition unit, int mainPid);
}

/// <summary>A running main process a previous supervisor left behind, to be adopted instead of started.</summary>
/// <summary>A unit a previous supervisor left active: its main process, or <see cref="NoProcess"/> for a oneshot left active (exited).</summary>
public sealed record Adoption(int MainPid, int Restarts, TimeSpan ActiveFor)
{
    public const int NoProcess = 0;
}

public enum JobResult { Done, Failed, Dependency, Canceled, Rejected }

public sealed record JobOutcome(JobResult Result, string? Message = null);

/// <summary>What status, metrics and the control API show for one unit.</summary>
public sealed record UnitStatus(
    string Name,
    UnitDefinition? Definition,
    UnitRuntime Runtime,
    bool BadSetting,
    IReadOnlyList<Diagnostic> Diagnostics)
{
    public ActiveState Active => Runtime.Active;
    public string LoadState => BadSetting ? "bad-setting" : "loaded";

    /// <summary>Made at run time, not from a unit file (an Accept=yes connection's instance): the reconciler never stops it, it is gone once down.</summary>
    public bool Transient { get; init; }

    /// <summary>
    /// Declared running, never stopped on request, yet it never got going: its start was
    /// cancelled, or a dependency failed and has since recovered. The reconciler starts it
    /// (<see cref="PlanActionKind.Repair"/>). A unit that ran and ended is not in this state:
    /// its Restart= policy already decided.
    /// </summary>
    public bool DeclaredButNeverRan =>
        Definition is { Kind: UnitKind.Service or UnitKind.Socket } && !BadSetting
        && Runtime is { Sub: SubState.Dead, StopRequested: false, LastExit: null, ActiveSince: null, Skipped: false, AssertFailed: false };
}

/// <summary>
/// Owns every unit's state machine and runs them on one logical thread (a channel reader), so
/// the machines need no locks. It turns requests into jobs ordered by After/Before and pulled in
/// by Requires/Wants/BindsTo, propagates stops and failures as systemd does, keeps one timer per
/// (unit, kind), and applies reconcile plans. What it asks of the world goes through
/// <see cref="IUnitHost"/>; what the world says comes back through <see cref="Post"/>.
/// </summary>
public sealed partial class UnitManager : IUnitEventSink
{
    private abstract record Work;
    private sealed record EventWork(string Unit, UnitEvent Event) : Work;
    private sealed record TimerWork(string Unit, TimerKind Kind, long Generation) : Work;
    private sealed record RequestWork(string Unit, JobKind Kind, TaskCompletionSource<JobOutcome> Done) : Work;
    private sealed record ReconcileWork(UnitSet Units, bool StartNew, IReadOnlyDictionary<string, Adoption>? Adoptions, TaskCompletionSource<IReadOnlyList<PlanAction>> Done) : Work;
    private sealed record StopAllWork(TaskCompletionSource<JobOutcome> Done) : Work;
    private sealed record TransientWork(UnitDefinition Unit, TaskCompletionSource<JobOutcome> Done) : Work;

    private enum JobKind { Start, Stop, Restart, Reload, ResetFailed }

    private sealed class Job(string unit, bool isStart, TaskCompletionSource<JobOutcome>? done)
    {
        public string Unit { get; } = unit;
        public bool IsStart { get; } = isStart;
        public bool Dispatched { get; set; }
        /// <summary>When the job was made (TimeProvider), for Type=idle's 5 s.</summary>
        public long Created { get; init; }
        public ITimer? IdleWake { get; set; }
        public List<TaskCompletionSource<JobOutcome>> Waiters { get; } = done is null ? [] : [done];
    }

    private sealed class Entry(UnitDefinition definition)
    {
        public UnitDefinition Definition { get; set; } = definition;
        public UnitMachine? Machine { get; set; }
        public UnitRuntime Runtime { get; set; } = new();
        public bool Bad { get; set; }
        public IReadOnlyList<Diagnostic> Diagnostics { get; set; } = [];
        public bool Removing { get; set; }
        /// <summary>Not from a unit file (UnitManager.Transient.cs).</summary>
        public bool Transient { get; init; }
        public Dictionary<TimerKind, (ITimer Timer, long Generation)> Timers { get; } = [];
        /// <summary>sd_notify messages waiting for the main pid (UnitManager.Notify.cs).</summary>
        public List<UnitEvent.Notified> HeldNotifications { get; } = [];
        public long? NotifyDropLoggedAt { get; set; }
        public int NotifyDropsSuppressed { get; set; }
    }

    // Not SingleReader: a PostNow caller may drain (TryRead) while the loop waits in WaitToReadAsync; and Count is needed.
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = false });
    private readonly TimeProvider _clock;
    private readonly IUnitHost _host;
    private readonly Dictionary<string, Entry> _units = new(StringComparer.Ordinal);
    private readonly List<Job> _jobs = [];
    private DependencyGraph _graph = new([]);
    private long _timerGeneration;
    private ImmutableDictionary<string, UnitStatus> _snapshot = ImmutableDictionary<string, UnitStatus>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Raised on the manager's thread after a unit's runtime changed (for D-Bus signals and logs).</summary>
    public event Action<UnitStatus, UnitRuntime>? StateChanged;

    /// <summary>Units were added (by a reconcile) or removed (after their stop); raised on the manager's thread.</summary>
    public event Action? UnitSetChanged;

    /// <summary>
    /// The last job finished: raised on the manager's thread with how many jobs this burst had
    /// (the daemon gives the start-up burst's garbage back to the system then).
    /// </summary>
    public event Action<int>? JobsDrained;
    private int _jobsInBurst;

    public UnitManager(TimeProvider clock, Func<IUnitEventSink, IUnitHost> hostFactory)
    {
        _clock = clock;
        _host = hostFactory(this);
    }

    public void Post(string unit, UnitEvent e) => Enqueue(new EventWork(unit, e));

    public IReadOnlyDictionary<string, UnitStatus> Units => _snapshot;

    public Task<JobOutcome> StartAsync(string unit) => Request(unit, JobKind.Start);
    public Task<JobOutcome> StopAsync(string unit) => Request(unit, JobKind.Stop);
    public Task<JobOutcome> RestartAsync(string unit) => Request(unit, JobKind.Restart);
    public Task<JobOutcome> ReloadAsync(string unit) => Request(unit, JobKind.Reload);
    public Task<JobOutcome> ResetFailedAsync(string unit) => Request(unit, JobKind.ResetFailed);

    /// <summary>Takes the desired units; returns the actions taken. With startNew, new units are started.</summary>
    public Task<IReadOnlyList<PlanAction>> ReconcileAsync(UnitSet units, bool startNew = true, IReadOnlyDictionary<string, Adoption>? adoptions = null)
    {
        var done = new TaskCompletionSource<IReadOnlyList<PlanAction>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(new ReconcileWork(units, startNew, adoptions, done));
        return done.Task;
    }

    /// <summary>What reconciling to <paramref name="units"/> would do now, without doing it (`supervisor plan`).</summary>
    public IReadOnlyList<PlanAction> Preview(UnitSet units) => ReconcilePlanner.Plan(Loaded(_snapshot.Values, units), units);

    /// <summary>Stops every unit in reverse dependency order (SIGTERM to the daemon).</summary>
    public Task<JobOutcome> StopAllAsync()
    {
        var done = new TaskCompletionSource<JobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(new StopAllWork(done));
        return done.Task;
    }

    private Task<JobOutcome> Request(string unit, JobKind kind)
    {
        var done = new TaskCompletionSource<JobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(new RequestWork(unit, kind, done));
        return done.Task;
    }

    /// <summary>
    /// The manager's loop. Everything that touches units runs here, one item at a time, or in a
    /// <see cref="PostNow"/> caller that found the manager idle (never both at once).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _running, true);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lock (_turn) Drain();
            }
        }
        finally
        {
            Volatile.Write(ref _running, false);
        }
    }

    /// <summary>Processes everything queued now (tests drive the manager with this and a fake clock).</summary>
    public void RunPending()
    {
        lock (_turn) Drain();
    }

    private void Process(Work work)
    {
        switch (work)
        {
            case EventWork { Event: UnitEvent.Notified n } nw:
                DeliverNotified(nw.Unit, n);
                break;
            case EventWork ew:
                Deliver(ew.Unit, ew.Event);
                break;
            case TimerWork tw:
                if (_units.TryGetValue(tw.Unit, out var te) && te.Timers.TryGetValue(tw.Kind, out var t) && t.Generation == tw.Generation)
                {
                    te.Timers.Remove(tw.Kind);
                    t.Timer.Dispose();
                    Deliver(tw.Unit, new UnitEvent.TimerElapsed(tw.Kind));
                }
                break;
            case RequestWork rw:
                HandleRequest(rw);
                break;
            case ReconcileWork cw:
                cw.Done.TrySetResult(Reconcile(cw.Units, cw.StartNew, cw.Adoptions));
                break;
            case StopAllWork sw:
                StopAll(sw.Done);
                break;
            case TransientWork tw:
                StartTransient(tw.Unit, tw.Done);
                break;
        }
        Dispatch();
    }

    private sealed class NoTimer : ITimer
    {
        public static readonly NoTimer Instance = new();
        public bool Change(TimeSpan dueTime, TimeSpan period) => false;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    // ── events into machines ─────────────────────────────────────────────────────────────────

    private void Deliver(string unit, UnitEvent e)
    {
        if (!_units.TryGetValue(unit, out var entry)) return;
        if (entry.Machine is null)
        {
            if (IsTarget(entry)) DeliverToTarget(unit, entry, e);
            return;
        }
        var before = entry.Runtime;
        var outcome = entry.Machine.Handle(before, e);
        entry.Runtime = outcome.Runtime;
        foreach (var action in outcome.Actions)
            Execute(unit, entry, action);
        if (!Equals(before, entry.Runtime))
        {
            OnChanged(unit, entry, before);
            ReleaseHeldNotifications(unit, entry);
        }
    }

    private void Execute(string unit, Entry entry, UnitAction action)
    {
        var def = entry.Definition;
        switch (action)
        {
            case UnitAction.SpawnMain m: _host.SpawnMain(def, m.Command); break;
            case UnitAction.SpawnControl c: _host.SpawnControl(def, c.Phase, c.Command, entry.Runtime.MainPid); break;
            case UnitAction.Signal s: _host.Signal(def, s.Target, s.Signo, entry.Runtime.MainPid); break;
            case UnitAction.WatchCgroupEmpty: _host.WatchCgroupEmpty(def); break;
            case UnitAction.FindMainPid: _host.FindMainPid(def); break;
            case UnitAction.Log l: _host.Log(unit, l.Message); break;
            case UnitAction.CheckConditions: _host.CheckConditions(def); break;
            case UnitAction.WatchBusName: _host.WatchBusName(def); break;
            case UnitAction.RunProbe p: _host.RunProbe(def, p.Role, p.Probe, p.Epoch, entry.Runtime.MainPid); break;
            case UnitAction.Reject r: _host.Log(unit, r.Reason); break;
            case UnitAction.ArmTimer a: Arm(unit, entry, a.Timer, a.After); break;
            case UnitAction.CancelTimer c:
                if (entry.Timers.Remove(c.Timer, out var t)) t.Timer.Dispose();
                break;
        }
    }

    private void Arm(string unit, Entry entry, TimerKind kind, TimeSpan after)
    {
        if (entry.Timers.Remove(kind, out var old)) old.Timer.Dispose();
        var generation = ++_timerGeneration;
        if (after <= TimeSpan.Zero)
        {
            // RestartSec=0: no timer thread round trip; the elapse is simply next in the queue.
            Enqueue(new TimerWork(unit, kind, generation));
            entry.Timers[kind] = (NoTimer.Instance, generation);
            return;
        }
        var timer = _clock.CreateTimer(_ => _queue.Writer.TryWrite(new TimerWork(unit, kind, generation)), null, after, Timeout.InfiniteTimeSpan);
        entry.Timers[kind] = (timer, generation);
    }

    private void OnChanged(string unit, Entry entry, UnitRuntime before)
    {
        Publish(unit, entry);
        StateChanged?.Invoke(_snapshot[unit], before);

        bool down = entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed;
        if (down && before.Active is not (ActiveState.Inactive or ActiveState.Failed) && entry.Machine is not null)
            _host.Release(entry.Definition);

        bool wasUp = before.Active is ActiveState.Active or ActiveState.Activating or ActiveState.Reloading && before.Sub is not SubState.AutoRestart;
        bool goingDown = entry.Runtime.Active is ActiveState.Deactivating or ActiveState.Inactive or ActiveState.Failed
            || entry.Runtime.Sub is SubState.AutoRestart;
        // A unit that goes down by itself (not on request) takes down what is bound to it (BindsTo), as in systemd.
        if (wasUp && goingDown && !entry.Runtime.StopRequested)
        {
            foreach (var dependant in _graph.StopPropagation(unit, requested: false))
                EnqueueStop(dependant, null);
        }
        TriggerOnFailureOrSuccess(unit, entry, before);
        CheckUnneeded(unit, entry, before);
        if (entry.Removing && entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed)
            Remove(unit, entry);
    }

    private void Publish(string unit, Entry entry) => _snapshot = _snapshot.SetItem(unit, StatusOf(unit, entry));

    private static UnitStatus StatusOf(string unit, Entry entry) => new(unit, entry.Definition, entry.Runtime, entry.Bad, entry.Diagnostics) { Transient = entry.Transient };
}
