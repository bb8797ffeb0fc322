using Supervisor.Linux;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Supervision;

/// <summary>
/// One unit's state machine as data, in the spirit of s6-supervise's actions[state][event]:
/// a table from (sub-state, event type) to a small function returning the next runtime and the
/// actions to take. Pure: time comes from a <see cref="TimeProvider"/>, randomness (restart
/// jitter) from a sample the caller passes, so every restart schedule is unit-tested without
/// processes. A pair missing from the table means the event does not apply and is ignored.
/// </summary>
public sealed partial class UnitMachine
{
    private delegate Outcome Handler(UnitMachine m, UnitRuntime r, UnitEvent e);

    public readonly record struct Outcome(UnitRuntime Runtime, IReadOnlyList<UnitAction> Actions);

    private readonly TimeProvider _clock;
    private readonly StartLimiter _limiter;
    private readonly Func<double> _jitter;

    public UnitDefinition Unit { get; private set; }
    private ServiceSection S => Unit.Service;

    public UnitMachine(UnitDefinition unit, TimeProvider clock, Func<double>? jitterSample = null)
    {
        Unit = unit;
        _clock = clock;
        _limiter = new StartLimiter(clock);
        _jitter = jitterSample ?? Random.Shared.NextDouble;
    }

    /// <summary>A changed unit file takes effect at the next start (and clears start-limit-hit, as in systemd).</summary>
    public void Update(UnitDefinition unit)
    {
        Unit = unit;
        _limiter.Reset();
    }

    private const int SigHup = 1;

    private static readonly SubState[] Stoppable =
        [SubState.Condition, SubState.StartPre, SubState.Start, SubState.StartPost, SubState.Running, SubState.Exited, SubState.Reload, SubState.Listening];

    private static readonly SubState[] Killing =
        [SubState.StopSigterm, SubState.StopSigkill, SubState.FinalSigterm, SubState.FinalSigkill];

    private static readonly Dictionary<(SubState, Type), Handler> Table = BuildTable();

    private static Dictionary<(SubState, Type), Handler> BuildTable()
    {
        var t = new Dictionary<(SubState, Type), Handler>();
        void On<TEvent>(Handler h, params SubState[] states) where TEvent : UnitEvent
        {
            foreach (var s in states) t[(s, typeof(TEvent))] = h;
        }

        On<UnitEvent.Start>((m, r, _) => m.BeginStart(r, manual: true), SubState.Dead, SubState.Failed, SubState.AutoRestart);
        On<UnitEvent.Restart>((m, r, _) => m.BeginStart(r, manual: true), SubState.Dead, SubState.Failed, SubState.AutoRestart);
        On<UnitEvent.Start>((m, r, _) => Ignore(r), SubState.Condition, SubState.StartPre, SubState.Start, SubState.StartPost, SubState.Running, SubState.Exited, SubState.Reload, SubState.Listening);
        On<UnitEvent.Stop>((m, r, _) => m.BeginStop(r with { RestartPending = false }), Stoppable);
        On<UnitEvent.Restart>((m, r, _) => m.BeginStop(r with { RestartPending = true }), Stoppable);
        On<UnitEvent.Stop>((m, r, _) => Go(r with { Sub = SubState.Dead, StopRequested = true }, new UnitAction.CancelTimer(TimerKind.Restart), new UnitAction.Log("automatic restart cancelled by stop")), SubState.AutoRestart);
        On<UnitEvent.Stop>((m, r, _) => Ignore(r), SubState.Dead, SubState.Failed);
        // Already going down (the service ended by itself, or an earlier stop): remember that this
        // stop was asked for, so that Finish does not schedule a restart when the cgroup empties.
        On<UnitEvent.Stop>((m, r, _) => Go(r with { StopRequested = true, RestartPending = false }),
            SubState.Stop, SubState.StopSigterm, SubState.StopSigkill, SubState.FinalSigterm, SubState.FinalSigkill, SubState.StopPost);
        On<UnitEvent.Restart>((m, r, _) => Go(r with { StopRequested = true, RestartPending = true }),
            SubState.Stop, SubState.StopSigterm, SubState.StopSigkill, SubState.FinalSigterm, SubState.FinalSigkill, SubState.StopPost);
        On<UnitEvent.ResetFailed>((m, r, _) => m.DoResetFailed(r), SubState.Failed, SubState.Dead);
        On<UnitEvent.Reload>((m, r, _) => m.BeginReload(r), SubState.Running, SubState.Exited);

        On<UnitEvent.ConditionsChecked>((m, r, e) => m.ConditionsChecked(r, (UnitEvent.ConditionsChecked)e), SubState.Condition);
        On<UnitEvent.ControlExited>((m, r, e) => m.ControlDone(r, (UnitEvent.ControlExited)e),
            SubState.Condition, SubState.StartPre, SubState.StartPost, SubState.Reload, SubState.Stop, SubState.StopPost);

        On<UnitEvent.MainStarted>((m, r, e) => m.MainStarted(r, ((UnitEvent.MainStarted)e).Pid), SubState.Start);
        On<UnitEvent.MainExited>((m, r, e) => m.MainExited(r, (UnitEvent.MainExited)e),
            SubState.Start, SubState.StartPost, SubState.Running, SubState.Reload, SubState.Stop, SubState.StopSigterm, SubState.StopSigkill, SubState.FinalSigterm, SubState.FinalSigkill);
        On<UnitEvent.SetupFailed>((m, r, e) => m.Fail(r with { MainPid = null }, UnitResult.Resources, ExitCause.UncleanCode, ((UnitEvent.SetupFailed)e).Message),
            SubState.Condition, SubState.StartPre, SubState.Start, SubState.StartPost, SubState.Reload, SubState.Stop, SubState.StopPost);
        On<UnitEvent.Ready>((m, r, _) => m.Ready(r), SubState.Start);
        On<UnitEvent.MainPidChanged>((m, r, e) => m.MainPidChanged(r, ((UnitEvent.MainPidChanged)e).Pid),
            SubState.Start, SubState.StartPost, SubState.Running, SubState.Reload);
        On<UnitEvent.WatchdogPing>((m, r, _) => m.WatchdogPing(r), SubState.Running, SubState.Reload);
        On<UnitEvent.WatchdogTrigger>((m, r, _) => m.WatchdogExpired(r), SubState.Running, SubState.Reload);
        On<UnitEvent.ExtendTimeout>((m, r, e) => Go(r, new UnitAction.ArmTimer(TimerKind.Start, ((UnitEvent.ExtendTimeout)e).By)),
            SubState.StartPre, SubState.Start, SubState.StartPost);
        On<UnitEvent.ExtendTimeout>((m, r, e) => Go(r, new UnitAction.ArmTimer(TimerKind.Stop, ((UnitEvent.ExtendTimeout)e).By)),
            SubState.Stop, SubState.StopSigterm, SubState.FinalSigterm, SubState.StopPost);

        On<UnitEvent.TimerElapsed>((m, r, e) => m.TimerElapsed(r, ((UnitEvent.TimerElapsed)e).Timer),
            Enum.GetValues<SubState>());
        On<UnitEvent.CgroupEmpty>((m, r, _) => m.CgroupEmpty(r), Killing);
        On<UnitEvent.ProbeResult>((m, r, e) => m.ProbeResult(r, (UnitEvent.ProbeResult)e), SubState.Start, SubState.StartPost, SubState.Running, SubState.Reload);
        return t;
    }

    /// <summary>The transition function: (runtime, event) → (runtime', actions).</summary>
    public Outcome Handle(UnitRuntime runtime, UnitEvent e)
    {
        if (runtime.Sub == SubState.BadSetting && e is UnitEvent.Start or UnitEvent.Restart)
            return Go(runtime, new UnitAction.Reject($"unit '{Unit.Name}' has errors in its unit file (bad-setting); fix it and reload"));
        return Table.TryGetValue((runtime.Sub, e.GetType()), out var handler)
            ? handler(this, runtime, e)
            : e is UnitEvent.Reload ? Go(runtime, new UnitAction.Reject($"unit '{Unit.Name}' is {StateNames.Name(runtime.Active)}; only an active unit can reload"))
            : Ignore(runtime);
    }

    private static Outcome Go(UnitRuntime r, params UnitAction[] actions) => new(r, actions);
    private static Outcome Ignore(UnitRuntime r) => new(r, []);

    // ── start ────────────────────────────────────────────────────────────────────────────────

    private Outcome BeginStart(UnitRuntime r, bool manual)
    {
        var actions = new List<UnitAction>();
        if (r.Sub == SubState.AutoRestart) actions.Add(new UnitAction.CancelTimer(TimerKind.Restart));
        if (!_limiter.TryStart(S))
        {
            actions.Add(new UnitAction.Log($"start request repeated too quickly ({S.StartLimitBurst} starts within {S.StartLimitIntervalSec}); refusing to start until reset-failed"));
            return new(r with { Sub = SubState.Failed, Result = UnitResult.StartLimitHit, RestartPending = false }, actions);
        }
        r = r with
        {
            Result = UnitResult.Success, StopRequested = false, RestartPending = false, EndCause = null, FailureReason = null,
            MainPid = null, StatusText = null, MainIndex = 0, ConditionResult = null, AssertResult = null,
            BackoffAttempt = manual ? 0 : r.BackoffAttempt, Health = FreshHealth(r), AwaitingHealth = false,
        };
        if (!S.TimeoutStartSec.IsInfinity) actions.Add(new UnitAction.ArmTimer(TimerKind.Start, S.TimeoutStartSec.ToTimeSpan()));
        // The host checks RequiresMountsFor= with the conditions (it reads the mount table).
        if (Unit.Unit.Conditions.Count > 0 || Unit.Unit.RequiresMountsFor.Count > 0)
        {
            actions.Add(new UnitAction.CheckConditions());
            return new(r with { Sub = SubState.Condition, ControlPhase = null }, actions);
        }
        return AfterConditions(r, actions);
    }

    /// <summary>ExecStartPre (or the main process) once ExecCondition, if any, said go.</summary>
    private Outcome StartPreOrMain(UnitRuntime r, List<UnitAction> actions)
    {
        if (S.ExecStartPre.Count > 0)
        {
            actions.Add(new UnitAction.SpawnControl(Phase.StartPre, S.ExecStartPre[0]));
            return new(r with { Sub = SubState.StartPre, ControlPhase = Phase.StartPre, ControlIndex = 0 }, actions);
        }
        actions.Add(new UnitAction.SpawnMain());
        return new(r with { Sub = SubState.Start, ControlPhase = null }, actions);
    }

    private Outcome MainStarted(UnitRuntime r, int pid)
    {
        // A socket unit has no process: "started" means its sockets are bound.
        if (Unit.Kind == UnitKind.Socket) return Running(r with { MainPid = null });
        r = r with { MainPid = pid };
        var probes = ArmProbes(r.Health).ToArray();
        if (probes.Length > 0) return PrependAll(probes, StartedByType(r));
        return StartedByType(r);
    }

    private static Outcome PrependAll(UnitAction[] first, Outcome o) => new(o.Runtime, [.. first, .. o.Actions]);

    private Outcome StartedByType(UnitRuntime r)
    {
        // simple and exec are started once execve succeeded; notify waits for READY=1;
        // oneshot for the exit; forking for the parent's exit.
        // idle is simple once spawned (the manager delayed the spawn); dbus waits for its BusName.
        return S.Type is ServiceType.Simple or ServiceType.Exec or ServiceType.Idle ? Started(r)
            : S.Type == ServiceType.Dbus ? Go(r, new UnitAction.WatchBusName())
            : Go(r);
    }

    private Outcome Ready(UnitRuntime r) => S.Type is ServiceType.Notify or ServiceType.Dbus ? Started(r) : Ignore(r);

    private Outcome MainPidChanged(UnitRuntime r, int pid)
    {
        r = r with { MainPid = pid };
        return r.Sub == SubState.Start && S.Type == ServiceType.Forking ? Started(r) : Go(r);
    }

    /// <summary>The main process is up by its type's rule: ExecStartPost, then running.</summary>
    private Outcome Started(UnitRuntime r)
    {
        if (HoldForHealth(ref r, out var waiting))
            return waiting is null ? Go(r) : Go(r, waiting);
        if (S.ExecStartPost.Count > 0)
            return Go(r with { Sub = SubState.StartPost, ControlPhase = Phase.StartPost, ControlIndex = 0 },
                new UnitAction.SpawnControl(Phase.StartPost, S.ExecStartPost[0]));
        return Running(r);
    }

    private Outcome Running(UnitRuntime r)
    {
        var actions = new List<UnitAction> { new UnitAction.CancelTimer(TimerKind.Start) };
        if (S.WatchdogEnabled)
            actions.Add(new UnitAction.ArmTimer(TimerKind.Watchdog, S.WatchdogSec.ToTimeSpan()));
        var sub = Unit.Kind == UnitKind.Socket ? SubState.Listening
            : S.Type == ServiceType.Oneshot ? (S.RemainAfterExit ? SubState.Exited : SubState.Dead) : SubState.Running;
        return new(r with { Sub = sub, ControlPhase = null, ActiveSince = _clock.GetTimestamp() }, actions);
    }

    // ── control commands (ExecStartPre/Post, ExecReload, ExecStop, ExecStopPost) ──────────────

    private Outcome ControlDone(UnitRuntime r, UnitEvent.ControlExited exited)
    {
        var exit = exited.Exit;
        var phase = r.ControlPhase!.Value;
        var list = Commands(phase);
        var command = list[r.ControlIndex];
        bool ok = exit.Code == 0 || command.IgnoreFailure;
        // The command's last word on stderr is usually the reason (nginx -t, a migration).
        string failed = $"{PhaseKey(phase)}[{r.ControlIndex}] '{command.Program}' failed ({exit})" +
            (exited.LastStderrLine is { } said ? $": {said}" : "");
        if (!ok && phase == Phase.Condition)
            return ConditionCommandFailed(r, exited, failed);
        if (!ok && phase is Phase.StartPre or Phase.StartPost)
            return Fail(r with { ControlPhase = null }, UnitResult.ExitCode, ExitCause.UncleanCode, failed);
        var log = ok ? null : new UnitAction.Log(failed + "; continuing");
        if (r.ControlIndex + 1 < list.Count)
        {
            var next = list[r.ControlIndex + 1];
            return Go(r with { ControlIndex = r.ControlIndex + 1 }, Actions(log, new UnitAction.SpawnControl(phase, next)));
        }
        // The phase is complete.
        return phase switch
        {
            Phase.Condition => StartPreOrMain(r with { ControlPhase = null }, [.. Actions(log)]),
            Phase.StartPre => new(r with { Sub = SubState.Start, ControlPhase = null }, Actions(log, new UnitAction.SpawnMain())),
            Phase.StartPost => Prepend(log, Running(r)),
            Phase.Reload => Go(r with { Sub = SubState.Running, ControlPhase = null }, Actions(log, new UnitAction.Log("reloaded"))),
            Phase.Stop => Prepend(log, KillPhase(r with { ControlPhase = null }, final: false)),
            Phase.StopPost => Prepend(log, Finish(r with { ControlPhase = null })),
            _ => throw new InvalidOperationException(phase.ToString()),
        };
    }

    private ValueList<Command> Commands(Phase p) => p switch
    {
        Phase.StartPre => S.ExecStartPre,
        Phase.StartPost => S.ExecStartPost,
        Phase.Reload => S.ExecReload,
        Phase.Stop => S.ExecStop,
        Phase.StopPost => S.ExecStopPost,
        Phase.Condition => S.ExecCondition,
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    private static string PhaseKey(Phase p) => "Exec" + p;

    private static UnitAction[] Actions(UnitAction? first, params UnitAction[] rest) =>
        first is null ? rest : [first, .. rest];

    private static Outcome Prepend(UnitAction? a, Outcome o) => a is null ? o : new(o.Runtime, [a, .. o.Actions]);

    // ── reload ───────────────────────────────────────────────────────────────────────────────

    private Outcome BeginReload(UnitRuntime r)
    {
        if (S.ExecReload.Count == 0)
            return Go(r, new UnitAction.Reject($"unit '{Unit.Name}' has no ExecReload"));
        return Go(r with { Sub = SubState.Reload, ControlPhase = Phase.Reload, ControlIndex = 0 },
            new UnitAction.SpawnControl(Phase.Reload, S.ExecReload[0]));
    }

    // ── main process exit, failures, watchdog ────────────────────────────────────────────────

    private Outcome MainExited(UnitRuntime r, UnitEvent.MainExited e)
    {
        // The reaper and the cgroup watch race: the cgroup may be reported empty, and a restart
        // begun, before the old main process's exit is delivered. That exit is not this run's.
        if (e.Pid is { } pid && pid != r.MainPid)
            return Go(r);
        r = r with { MainPid = null, LastExit = e.Exit };
        var cause = ExitClassifier.Classify(e.Exit, S);
        var result = ExitClassifier.ResultOf(e.Exit, S, e.OomKilled);
        if (e.OomKilled) cause = ExitCause.UncleanSignal;

        // Already stopping: the exit is what we asked for; keep the first failure as the result.
        if (r.Sub is SubState.Stop or SubState.StopSigterm or SubState.StopSigkill or SubState.FinalSigterm or SubState.FinalSigkill)
        {
            if (r.Sub is SubState.Stop) return Go(r);
            return Go(r with { Result = r.Result == UnitResult.Success && r.EndCause is null ? Quiet(result, r, e.Exit) : r.Result }, new UnitAction.WatchCgroupEmpty());
        }

        if (r.Sub == SubState.Start && S.Type == ServiceType.Forking && cause == ExitCause.Clean)
            return Go(r, new UnitAction.FindMainPid());
        // "-" on the running ExecStart line: its failure counts as success (systemd's EXEC_COMMAND_IGNORE_FAILURE).
        if (result != UnitResult.Success && !e.OomKilled && S.ExecStartLines.ElementAtOrDefault(r.MainIndex) is { IgnoreFailure: true })
            (cause, result) = (ExitCause.Clean, UnitResult.Success);
        if (r.Sub == SubState.Start && S.Type == ServiceType.Oneshot && cause == ExitCause.Clean)
            return r.MainIndex + 1 < S.ExecStartLines.Count
                ? Go(r with { MainIndex = r.MainIndex + 1 }, new UnitAction.SpawnMain(S.ExecStartLines[r.MainIndex + 1]))
                : Started(r);

        if (result == UnitResult.Success)
        {
            // A clean exit of a running service: it is done; what remains of it is stopped.
            return KillPhase(r with { EndCause = ExitCause.Clean }, final: true,
                log: $"main process exited, {e.Exit}");
        }
        return Fail(r, result, cause, $"main process exited, {e.Exit}" + (e.OomKilled ? ", killed by the OOM killer" : ""));
    }

    /// <summary>
    /// A requested stop ends with whatever result the service had; SIGTERM on request is not a
    /// failure. Nor is the end of an adopted process whose status is unknown: we signalled it,
    /// it is gone, and systemd counts a stop it asked for as clean unless the service says otherwise.
    /// </summary>
    private static UnitResult Quiet(UnitResult result, UnitRuntime r, ExitInfo exit) =>
        r.StopRequested && (result is UnitResult.Signal || (exit.IsUnknown && result is UnitResult.ExitCode)) ? UnitResult.Success : result;

    private Outcome Fail(UnitRuntime r, UnitResult result, ExitCause cause, string why)
    {
        var rr = r with { Result = r.Result == UnitResult.Success ? result : r.Result, EndCause = cause, FailureReason = r.FailureReason ?? why };
        return KillPhase(rr, final: true, log: $"failed with result '{StateNames.Name(result)}': {why}");
    }

    private Outcome WatchdogPing(UnitRuntime r) =>
        S.WatchdogEnabled
            ? Go(r, new UnitAction.ArmTimer(TimerKind.Watchdog, S.WatchdogSec.ToTimeSpan()))
            : Ignore(r);

    private Outcome WatchdogExpired(UnitRuntime r)
    {
        var rr = r with { Result = UnitResult.Watchdog, EndCause = ExitCause.Watchdog };
        // systemd sends WatchdogSignal (SIGABRT) to the main process, so it can dump core, and
        // gives it TimeoutAbortSec (default TimeoutStopSec) to do so before FinalKillSignal.
        return KillPhase(rr, final: true, log: $"watchdog timeout ({S.WatchdogSec}): no WATCHDOG=1 in time; sending {Signals.Name(S.WatchdogSignal)}",
            signal: S.WatchdogSignal, timeout: S.EffectiveTimeoutAbortSec);
    }

    private Outcome TimerElapsed(UnitRuntime r, TimerKind timer)
    {
        switch (timer)
        {
            case TimerKind.Start when r.Sub is SubState.Condition or SubState.StartPre or SubState.Start or SubState.StartPost:
                return Fail(r, UnitResult.Timeout, ExitCause.Timeout, $"start did not complete within TimeoutStartSec={S.TimeoutStartSec}"
                    + (r.AwaitingHealth ? $": the {(r.Health.StartupDone ? "readiness" : "startup")} probe has not passed"
                    : S.Type == ServiceType.Notify && r.Sub == SubState.Start ? $": no READY=1 arrived on the notify socket {Notify.NotifySocket.PathToken}" : ""));
            case TimerKind.Restart when r.Sub == SubState.AutoRestart:
                return Prepend(new UnitAction.Log($"scheduled restart (restart number {r.NRestarts})"), BeginStart(r, manual: false));
            case TimerKind.StartupProbe:
                return ProbeDue(r, Units.Model.ProbeRole.Startup);
            case TimerKind.LivenessProbe:
                return ProbeDue(r, Units.Model.ProbeRole.Liveness);
            case TimerKind.ReadinessProbe:
                return ProbeDue(r, Units.Model.ProbeRole.Readiness);
            case TimerKind.Watchdog when r.Sub is SubState.Running or SubState.Reload:
                return WatchdogExpired(r);
            case TimerKind.Stop when r.Sub is SubState.Stop or SubState.StopSigterm or SubState.FinalSigterm or SubState.StopPost:
                if (r.Sub == SubState.StopPost)
                    return Prepend(new UnitAction.Log($"ExecStopPost did not finish within TimeoutStopSec={S.TimeoutStopSec}"), Finish(r with { ControlPhase = null }));
                var rr = r with { Result = r.Result == UnitResult.Success ? UnitResult.Timeout : r.Result };
                // After the watchdog's signal the wait was TimeoutAbortSec (systemd's stop-watchdog state).
                string timeout = r is { Sub: SubState.FinalSigterm, EndCause: ExitCause.Watchdog }
                    ? $"TimeoutAbortSec={S.EffectiveTimeoutAbortSec}" : $"TimeoutStopSec={S.TimeoutStopSec}";
                if (!S.SendSIGKILL)
                    return Go(rr with { Sub = r.Sub == SubState.FinalSigterm ? SubState.FinalSigterm : SubState.StopSigterm },
                        new UnitAction.Log($"processes remain after {timeout} and SendSIGKILL is off; leaving them"),
                        new UnitAction.WatchCgroupEmpty());
                return Go(rr with { Sub = r.Sub == SubState.FinalSigterm ? SubState.FinalSigkill : SubState.StopSigkill },
                    new UnitAction.Log($"stop timed out after {timeout}; sending {Signals.Name(S.FinalKillSignal)} to what remains"),
                    new UnitAction.Signal(SignalTarget.ControlGroup, S.FinalKillSignal),
                    new UnitAction.WatchCgroupEmpty());
            default:
                return Ignore(r);
        }
    }
}
