using Supervisor.Linux;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Supervision;

/// <summary>The stop half of the machine: the stop commands, the kill phases with their signals and timeouts, and the end of a run (restart or rest).</summary>
public sealed partial class UnitMachine
{
    // ── stop ─────────────────────────────────────────────────────────────────────────────────

    private Outcome BeginStop(UnitRuntime r)
    {
        r = r with { StopRequested = true };
        var actions = new List<UnitAction> { new UnitAction.CancelTimer(TimerKind.Start), new UnitAction.CancelTimer(TimerKind.Watchdog) };
        if (r.Sub is SubState.Running or SubState.Exited && S.ExecStop.Count > 0)
        {
            actions.Add(new UnitAction.SpawnControl(Phase.Stop, S.ExecStop[0]));
            if (!S.TimeoutStopSec.IsInfinity) actions.Add(new UnitAction.ArmTimer(TimerKind.Stop, S.TimeoutStopSec.ToTimeSpan()));
            return new(r with { Sub = SubState.Stop, ControlPhase = Phase.Stop, ControlIndex = 0 }, actions);
        }
        var o = KillPhase(r, final: false);
        return new(o.Runtime, [.. actions, .. o.Actions]);
    }

    /// <summary>
    /// Signal what runs, as KillMode says, and wait for the cgroup to empty (TimeoutStopSec, then
    /// FinalKillSignal). "final" is the path after the service ended or failed by itself. The
    /// signal is KillSignal, RestartKillSignal for a restart job, or the one given (the watchdog's).
    /// </summary>
    private Outcome KillPhase(UnitRuntime r, bool final, string? log = null, int? signal = null, Duration? timeout = null)
    {
        var actions = new List<UnitAction>();
        if (log is not null) actions.Add(new UnitAction.Log(log));
        actions.Add(new UnitAction.CancelTimer(TimerKind.Start));
        actions.Add(new UnitAction.CancelTimer(TimerKind.Watchdog));
        int sig = signal ?? (r.RestartPending ? S.RestartKillSignal ?? S.KillSignal : S.KillSignal);
        if (signal is not null && r.MainPid is not null)
            actions.Add(new UnitAction.Signal(SignalTarget.Main, sig));
        else
        {
            var target = S.KillMode switch
            {
                KillMode.ControlGroup => SignalTarget.ControlGroup,
                KillMode.Mixed or KillMode.Process when r.MainPid is not null => SignalTarget.Main,
                _ => (SignalTarget?)null,
            };
            if (target is { } t)
            {
                actions.Add(new UnitAction.Signal(t, sig));
                // SendSIGHUP: right after the stop signal, to the same processes (systemd's unit_kill_context).
                if (S.SendSIGHUP && sig != SigHup) actions.Add(new UnitAction.Signal(t, SigHup));
            }
            else if (S.KillMode == KillMode.Mixed)
                // The main process is gone: what remains gets the last kill step's signal at once (systemd).
                actions.Add(new UnitAction.Signal(SignalTarget.ControlGroup, S.FinalKillSignal));
        }
        var wait = timeout ?? S.TimeoutStopSec;
        if (!wait.IsInfinity) actions.Add(new UnitAction.ArmTimer(TimerKind.Stop, wait.ToTimeSpan()));
        actions.Add(new UnitAction.WatchCgroupEmpty());
        return new(r with { Sub = final ? SubState.FinalSigterm : SubState.StopSigterm, ControlPhase = null }, actions);
    }

    private Outcome CgroupEmpty(UnitRuntime r)
    {
        if (S.KillMode == KillMode.Process && r.MainPid is not null) return Ignore(r);
        var actions = new List<UnitAction> { new UnitAction.CancelTimer(TimerKind.Stop) };
        r = r with { MainPid = null };
        if (S.ExecStopPost.Count > 0)
        {
            actions.Add(new UnitAction.SpawnControl(Phase.StopPost, S.ExecStopPost[0]));
            if (!S.TimeoutStopSec.IsInfinity) actions.Add(new UnitAction.ArmTimer(TimerKind.Stop, S.TimeoutStopSec.ToTimeSpan()));
            return new(r with { Sub = SubState.StopPost, ControlPhase = Phase.StopPost, ControlIndex = 0 }, actions);
        }
        var o = Finish(r);
        return new(o.Runtime, [.. actions, .. o.Actions]);
    }

    /// <summary>Everything has stopped: dead, failed, or a scheduled restart, by the Restart= table.</summary>
    private Outcome Finish(UnitRuntime r)
    {
        if (r.RestartPending)
            return Prepend(new UnitAction.Log("restarting on request"), BeginStart(r with { RestartPending = false, Sub = SubState.Dead }, manual: true));
        if (r.StopRequested)
            return Go(r with { Sub = r.Result is UnitResult.Success or UnitResult.ExecCondition ? SubState.Dead : SubState.Failed, StopRequested = false });
        // ExecCondition said skip: inactive, never restarted (systemd: Restart=always does not restart a skipped unit).
        if (r.Result == UnitResult.ExecCondition)
            return Go(r with { Sub = SubState.Dead });

        var cause = r.EndCause ?? ExitCause.Clean;
        if (RestartPolicyTable.ShouldRestart(S, cause, r.LastExit))
        {
            int attempt = r.BackoffAttempt;
            if (r.ActiveSince is { } since && Backoff.ShouldReset(S, _clock.GetElapsedTime(since)))
                attempt = 0;
            attempt++;
            var delay = Backoff.Delay(S, attempt, _jitter());
            return Go(r with { Sub = SubState.AutoRestart, NRestarts = r.NRestarts + 1, BackoffAttempt = attempt },
                new UnitAction.Log($"scheduling restart in {Units.Values.Duration.FromMilliseconds((long)delay.TotalMilliseconds)} (Restart={RestartName()}, result '{StateNames.Name(r.Result)}')"),
                new UnitAction.ArmTimer(TimerKind.Restart, delay));
        }
        return Go(r with { Sub = r.Result == UnitResult.Success ? SubState.Dead : SubState.Failed });
    }

    private string RestartName() => StateNames.Kebab(S.Restart.ToString());

    private Outcome DoResetFailed(UnitRuntime r)
    {
        _limiter.Reset();
        return Go(r with { Sub = SubState.Dead, Result = UnitResult.Success, BackoffAttempt = 0 });
    }
}
