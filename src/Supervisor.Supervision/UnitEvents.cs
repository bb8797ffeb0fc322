using Supervisor.Linux;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Supervision;

/// <summary>Which command list a control process belongs to.</summary>
public enum Phase { StartPre, StartPost, Reload, Stop, StopPost, Condition }

public enum TimerKind
{
    Start, Stop, Restart, Watchdog,
    /// <summary>The next run of a [Health] probe; one timer per probe.</summary>
    StartupProbe, LivenessProbe, ReadinessProbe,
}

/// <summary>Who gets a signal: the main process only, or every process in the unit's cgroup.</summary>
public enum SignalTarget { Main, ControlGroup }

/// <summary>What happened to a unit. Produced by the daemon from requests, the reaper, timers, sd_notify and cgroup events.</summary>
public abstract record UnitEvent
{
    public sealed record Start : UnitEvent;
    public sealed record Stop : UnitEvent;
    public sealed record Restart : UnitEvent;
    public sealed record Reload : UnitEvent;
    public sealed record ResetFailed : UnitEvent;
    /// <summary>The main process runs (for every type the launcher reports this once execve succeeded).</summary>
    public sealed record MainStarted(int Pid) : UnitEvent;
    /// <summary>The main process ended. With its pid, an exit of an earlier run's process (it can arrive after a restart began) is recognised and ignored.</summary>
    public sealed record MainExited(ExitInfo Exit, bool OomKilled, int? Pid = null) : UnitEvent;
    /// <summary>A sandbox or cgroup step failed before execve: the unit cannot run as declared.</summary>
    public sealed record SetupFailed(string Message) : UnitEvent;
    /// <summary>A control command (ExecStartPre, ExecReload, …) exited; <paramref name="LastStderrLine"/> is what it said last on stderr, for a failure's message.</summary>
    public sealed record ControlExited(ExitInfo Exit, string? LastStderrLine = null) : UnitEvent;
    public sealed record Ready : UnitEvent;
    public sealed record MainPidChanged(int Pid) : UnitEvent;
    public sealed record WatchdogPing : UnitEvent;
    public sealed record WatchdogTrigger : UnitEvent;
    public sealed record ExtendTimeout(TimeSpan By) : UnitEvent;
    public sealed record TimerElapsed(TimerKind Timer) : UnitEvent;
    /// <summary>The unit's cgroup has no process left (cgroup.events populated 0, or v1 polling).</summary>
    public sealed record CgroupEmpty : UnitEvent;
    /// <summary>
    /// An sd_notify datagram from a process of the unit's cgroup, as the events it carries and the
    /// lines it asks to log; the manager delivers them only when NotifyAccess admits the sender.
    /// </summary>
    /// <param name="FdStore">FDSTORE=1 / FDSTOREREMOVE=1 with the descriptors that came with the message: given to the host when NotifyAccess admits the message, closed otherwise.</param>
    public sealed record Notified(int SenderPid, bool FromControl, IReadOnlyList<UnitEvent> Events, IReadOnlyList<string> Lines,
        Notify.FdStoreRequest? FdStore = null) : UnitEvent;
    /// <summary>The unit's Condition* and Assert* lists were checked (by the host, which reads the files and the system).</summary>
    public sealed record ConditionsChecked(ConditionOutcome Conditions, ConditionOutcome Asserts) : UnitEvent;
    /// <summary>
    /// One run of a [Health] probe ended: <paramref name="Detail"/> says what it saw (bounded, one
    /// line). <paramref name="Epoch"/> is the run's <see cref="HealthState.Epoch"/>: a result from an
    /// earlier run of the unit is ignored.
    /// </summary>
    public sealed record ProbeResult(ProbeRole Role, bool Ok, string Detail, int Epoch) : UnitEvent;
}

/// <summary>What the daemon must do after a transition, in order. The machine itself does nothing.</summary>
public abstract record UnitAction
{
    /// <summary>Start a main process: ExecStart, or (Type=oneshot) the next of its lines, <paramref name="Command"/>.</summary>
    public sealed record SpawnMain(Command? Command = null) : UnitAction;
    public sealed record SpawnControl(Phase Phase, Command Command) : UnitAction;
    public sealed record Signal(SignalTarget Target, int Signo) : UnitAction;
    public sealed record ArmTimer(TimerKind Timer, TimeSpan After) : UnitAction;
    public sealed record CancelTimer(TimerKind Timer) : UnitAction;
    /// <summary>Type=forking: the parent exited cleanly; find the daemon's PID (PIDFile, else the cgroup) and report MainPidChanged.</summary>
    public sealed record FindMainPid : UnitAction;
    /// <summary>Report CgroupEmpty as soon as the unit's cgroup is empty (at once if it already is).</summary>
    public sealed record WatchCgroupEmpty : UnitAction;
    /// <summary>The request cannot be carried out in this state; say why.</summary>
    public sealed record Reject(string Reason) : UnitAction;
    /// <summary>A line for the unit's log and the supervisor's, with the reason.</summary>
    public sealed record Log(string Message) : UnitAction;
    /// <summary>Check the unit's Condition* and Assert* lists now and report ConditionsChecked.</summary>
    public sealed record CheckConditions : UnitAction;
    /// <summary>Type=dbus: report Ready once BusName has an owner on the system bus (SetupFailed when there is no bus).</summary>
    public sealed record WatchBusName : UnitAction;
    /// <summary>Run the probe once, within its TimeoutSec, never with more privilege than the unit; report ProbeResult with <paramref name="Epoch"/>.</summary>
    public sealed record RunProbe(ProbeRole Role, ProbeSpec Probe, int Epoch) : UnitAction;
}

/// <summary>Everything the supervisor remembers about one unit between events. Immutable.</summary>
public sealed record UnitRuntime
{
    public SubState Sub { get; init; } = SubState.Dead;
    public UnitResult Result { get; init; } = UnitResult.Success;
    public int? MainPid { get; init; }
    public ExitInfo? LastExit { get; init; }
    /// <summary>Automatic restarts so far (systemd's NRestarts); survives supervisor restarts.</summary>
    public int NRestarts { get; init; }
    /// <summary>Restarts since the backoff last started over; indexes the backoff.</summary>
    public int BackoffAttempt { get; init; }
    /// <summary>Timestamp (TimeProvider) when the unit last became active.</summary>
    public long? ActiveSince { get; init; }
    public Phase? ControlPhase { get; init; }
    /// <summary>Which ExecStart line runs as the main process (Type=oneshot runs them in order).</summary>
    public int MainIndex { get; init; }
    public int ControlIndex { get; init; }
    /// <summary>A requested restart: once stopped, start again.</summary>
    public bool RestartPending { get; init; }
    /// <summary>The stop was asked for (by a person, a dependency or the reconciler): never restart after it.</summary>
    public bool StopRequested { get; init; }
    /// <summary>Why the run ended, for the Restart= decision, once the cgroup is empty.</summary>
    public ExitCause? EndCause { get; init; }
    public string? StatusText { get; init; }
    /// <summary>Why the last start or run failed, in words (the failing command and its last stderr line), for the start job's answer.</summary>
    public string? FailureReason { get; init; }
    /// <summary>The last check of the Condition* list (null: not checked since the last start began, or none declared).</summary>
    public ConditionOutcome? ConditionResult { get; init; }
    /// <summary>The last check of the Assert* list.</summary>
    public ConditionOutcome? AssertResult { get; init; }
    /// <summary>Timestamp (TimeProvider) of the last condition check.</summary>
    public long? ConditionCheckedAt { get; init; }
    /// <summary>The [Health] probes' state in this run (empty when the unit has none).</summary>
    public HealthState Health { get; init; } = HealthState.None;
    /// <summary>Started by its type's rule, but held activating until its startup and readiness probes pass.</summary>
    public bool AwaitingHealth { get; init; }

    /// <summary>The last start was skipped: a Condition* not met, or ExecCondition said so (exit 1–254). Not a failure.</summary>
    public bool Skipped => Sub == SubState.Dead && (ConditionResult is { Met: false } || Result == UnitResult.ExecCondition);
    /// <summary>The last start was refused by an Assert*: the start job failed, the unit is inactive.</summary>
    public bool AssertFailed => Sub == SubState.Dead && AssertResult is { Met: false };

    public ActiveState Active => StateNames.ActiveOf(Sub);
}
