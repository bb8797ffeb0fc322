using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// The condition phase of a start, as systemd 252 has it: Condition* and Assert* are checked
/// first (the host reads the system, the machine decides), then ExecCondition runs, then
/// ExecStartPre. A condition not met skips the start: the unit stays inactive (dead) and the
/// start job succeeds. An assert not met fails the start job, the unit stays inactive. An
/// ExecCondition exiting 1–254 skips like a condition (result exec-condition); 255 or a signal fails.
/// </summary>
public sealed partial class UnitMachine
{
    private Outcome ConditionsChecked(UnitRuntime r, UnitEvent.ConditionsChecked e)
    {
        if (r.ControlPhase is not null) return Ignore(r);
        r = r with { ConditionResult = e.Conditions, AssertResult = e.Asserts, ConditionCheckedAt = _clock.GetTimestamp() };
        if (!e.Conditions.Met)
            return Go(r with { Sub = SubState.Dead },
                new UnitAction.CancelTimer(TimerKind.Start),
                new UnitAction.Log($"start condition failed; condition check resulted in '{Unit.Name}' being skipped: {e.Conditions.Describe()}"));
        if (!e.Asserts.Met)
        {
            // RequiresMountsFor= comes as a failed assert marked Dependency: systemd says "Dependency failed" then.
            var (what, log) = e.Asserts.Dependency ? ("Dependency failed", "start dependency failed") : ("Assertion failed", "start assertion failed");
            return Go(r with { Sub = SubState.Dead, FailureReason = $"{what} on job for '{Unit.Name}': {e.Asserts.Describe()}" },
                new UnitAction.CancelTimer(TimerKind.Start),
                new UnitAction.Log($"{log}: {e.Asserts.Describe()}"));
        }
        return AfterConditions(r, []);
    }

    /// <summary>ExecCondition in order, else straight on to ExecStartPre or the main process.</summary>
    private Outcome AfterConditions(UnitRuntime r, List<UnitAction> actions)
    {
        if (S.ExecCondition.Count > 0)
        {
            actions.Add(new UnitAction.SpawnControl(Phase.Condition, S.ExecCondition[0]));
            return new(r with { Sub = SubState.Condition, ControlPhase = Phase.Condition, ControlIndex = 0 }, actions);
        }
        return StartPreOrMain(r, actions);
    }

    /// <summary>An ExecCondition command said no: exit 1–254 skips the start, 255 or a signal is a failure.</summary>
    private Outcome ConditionCommandFailed(UnitRuntime r, UnitEvent.ControlExited exited, string failed)
    {
        var exit = exited.Exit;
        r = r with { ControlPhase = null };
        if (exit.Code is >= 1 and <= 254)
        {
            var skipped = new ConditionOutcome(false, false, ValueList<UnitCondition>.Empty, failed);
            var rr = r with { Result = UnitResult.ExecCondition, EndCause = ExitCause.Clean, ConditionResult = skipped, ConditionCheckedAt = _clock.GetTimestamp() };
            // What the command left running goes, as after any control process; then dead, never restarted.
            return KillPhase(rr, final: true, log: $"skipped: {failed}");
        }
        var result = exit.Signal is null ? UnitResult.ExitCode : exit.CoreDumped ? UnitResult.CoreDump : UnitResult.Signal;
        return Fail(r, result, exit.Signal is null ? ExitCause.UncleanCode : ExitCause.UncleanSignal, failed);
    }
}
