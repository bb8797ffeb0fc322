using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// [Health] probes (Kubernetes' semantics): each probe is a timer that asks the host to run it
/// and a count of the results. Startup runs first and holds the others off; liveness failing
/// FailureThreshold times in a row ends the run with result "health", restarted by Restart= as a
/// watchdog timeout is; readiness gates the unit's "active" (it stays activating, so start jobs
/// and units ordered after it wait) and later only reports.
/// </summary>
public sealed partial class UnitMachine
{
    private const int SigCont = 18;

    /// <summary>A process runs that probes can look at.</summary>
    private static bool Probing(SubState s) => s is SubState.Start or SubState.StartPost or SubState.Running or SubState.Reload;

    private static TimerKind TimerOf(ProbeRole role) => role switch
    {
        ProbeRole.Startup => TimerKind.StartupProbe,
        ProbeRole.Liveness => TimerKind.LivenessProbe,
        _ => TimerKind.ReadinessProbe,
    };

    private static string Word(ProbeRole role) => role.ToString().ToLowerInvariant();

    /// <summary>A new run: fresh counts, and an epoch that makes an earlier run's late results stale.</summary>
    private HealthState FreshHealth(UnitRuntime r) =>
        new() { Epoch = r.Health.Epoch + 1, StartupDone = Unit.Health.StartupProbe is null };

    /// <summary>The main process runs: the startup probe, or (without one) liveness and readiness, after their InitialDelaySec.</summary>
    private IEnumerable<UnitAction> ArmProbes(HealthState h)
    {
        var roles = h.StartupDone ? new[] { ProbeRole.Liveness, ProbeRole.Readiness } : [ProbeRole.Startup];
        foreach (var role in roles)
            if (Unit.Health.Of(role) is { } spec)
                yield return new UnitAction.ArmTimer(TimerOf(role), spec.InitialDelay.ToTimeSpan());
    }

    /// <summary>
    /// A unit taken over from a previous supervisor was active, so its startup had succeeded:
    /// liveness and readiness run again from now (readiness unknown until its first run).
    /// </summary>
    public Outcome AdoptedProbes(UnitRuntime r)
    {
        var h = FreshHealth(r) with { StartupDone = true };
        return new(r with { Health = h }, [.. ArmProbes(h)]);
    }

    private Outcome ProbeDue(UnitRuntime r, ProbeRole role)
    {
        // Not re-armed once the run is over: the probes stop by themselves at the next due time.
        if (!Probing(r.Sub)) return Ignore(r);
        if (Unit.Health.Of(role) is not { } spec) return ProbeRemoved(r);
        if (role == ProbeRole.Startup ? r.Health.StartupDone : !r.Health.StartupDone) return Ignore(r);
        return Go(r, new UnitAction.RunProbe(role, spec, r.Health.Epoch), new UnitAction.ArmTimer(TimerOf(role), spec.Period.ToTimeSpan()));
    }

    /// <summary>
    /// A reload removed the probe whose timer this was: a removed startup probe no longer holds
    /// the others off, and a unit waiting for a removed probe becomes active if the rest pass.
    /// </summary>
    private Outcome ProbeRemoved(UnitRuntime r)
    {
        var h = r.Health;
        UnitAction[] armed = [];
        if (Unit.Health.StartupProbe is null && !h.StartupDone)
        {
            h = h with { StartupDone = true };
            armed = [.. ArmProbes(h)];
        }
        r = r with { Health = h };
        return r.Sub == SubState.Start && r.AwaitingHealth && h.Passes(Unit.Health)
            ? PrependAll(armed, Started(r with { AwaitingHealth = false }))
            : Go(r, armed);
    }

    private Outcome ProbeResult(UnitRuntime r, UnitEvent.ProbeResult e)
    {
        if (e.Epoch != r.Health.Epoch || Unit.Health.Of(e.Role) is not { } spec) return Ignore(r);
        if (e.Role == ProbeRole.Startup ? r.Health.StartupDone : !r.Health.StartupDone) return Ignore(r);
        var before = r.Health.Of(e.Role);
        var now = HealthState.Count(before, spec, e.Ok, e.Detail);
        var h = r.Health.With(e.Role, now);
        var actions = new List<UnitAction>();
        // Bounded: a failing probe logs at most FailureThreshold lines per bad streak, then its verdict changes.
        if (!e.Ok && now.Failures > before.Failures)
            actions.Add(new UnitAction.Log($"{Word(e.Role)} probe failed ({now.Failures}/{spec.FailureThreshold}): {e.Detail}"));
        if (now.Ok != before.Ok && now.Ok == true)
            actions.Add(new UnitAction.Log($"{Word(e.Role)} probe succeeded" + (e.Role == ProbeRole.Readiness ? ": ready" : "")));
        if (now.Ok == false && e.Role != ProbeRole.Readiness)
            return Prepend(actions, HealthFailed(r with { Health = h }, e.Role, spec, e.Detail));
        if (now.Ok == false && before.Ok != false)
            actions.Add(new UnitAction.Log("readiness probe failed: not ready" + (r.Sub == SubState.Running ? " (the service keeps running)" : "")));
        if (e.Role == ProbeRole.Startup && now.Ok == true)
        {
            h = h with { StartupDone = true };
            actions.AddRange(ArmProbes(h));
        }
        r = r with { Health = h };
        // Started() found the probes not yet passing and left the unit activating; now they do.
        if (r.Sub == SubState.Start && r.AwaitingHealth && h.Passes(Unit.Health))
            return Prepend(actions, Started(r with { AwaitingHealth = false }));
        return new(r, actions);
    }

    private static Outcome Prepend(List<UnitAction> first, Outcome o) => first.Count == 0 ? o : new(o.Runtime, [.. first, .. o.Actions]);

    /// <summary>
    /// Liveness or startup failed past its threshold: stopped as a failure (KillSignal, then
    /// TimeoutStopSec and FinalKillSignal), result "health", restarted as a watchdog timeout is.
    /// SIGCONT follows the kill signal, as in systemd's unit_kill_context: a stopped (SIGSTOP) service
    /// would otherwise not act on SIGTERM until TimeoutStopSec ran out.
    /// </summary>
    private Outcome HealthFailed(UnitRuntime r, ProbeRole role, ProbeSpec spec, string detail)
    {
        var o = Fail(r, UnitResult.Health, ExitCause.Watchdog, $"{Word(role)} probe failed {spec.FailureThreshold} times in a row, last: {detail}");
        var target = S.KillMode == KillMode.ControlGroup || o.Runtime.MainPid is null ? SignalTarget.ControlGroup : SignalTarget.Main;
        return new(o.Runtime, [.. o.Actions, new UnitAction.Signal(target, SigCont)]);
    }

    /// <summary>Started() with probes: the unit becomes active only once they pass.</summary>
    private bool HoldForHealth(ref UnitRuntime r, out UnitAction? log)
    {
        log = null;
        if (!Unit.Health.Any || r.Health.Passes(Unit.Health)) return false;
        if (!r.AwaitingHealth)
            log = new UnitAction.Log(r.Health.StartupDone ? "waiting for the readiness probe to pass" : "waiting for the startup probe to pass");
        r = r with { AwaitingHealth = true };
        return true;
    }
}
