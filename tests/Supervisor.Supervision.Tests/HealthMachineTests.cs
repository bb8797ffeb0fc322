using Supervisor.Units.Model;
using Supervisor.Units.Values;
using E = Supervisor.Supervision.UnitEvent;
using A = Supervisor.Supervision.UnitAction;

namespace Supervisor.Supervision.Tests;

/// <summary>[Health] in the state machine: probe timers, thresholds, the "health" result and the readiness gate, with a fake clock.</summary>
public class HealthMachineTests
{
    private static readonly Command True = new(["/bin/true"], false);

    private static ProbeSpec Probe(int failures = 3, int successes = 1, double periodSec = 1, double delaySec = 0) => new()
    {
        Check = ProbeCheck.Tcp, Address = "127.0.0.1:8080", Host = "127.0.0.1", Port = 8080,
        Period = new Duration((long)(periodSec * 1e6)), Timeout = Duration.FromMilliseconds(500),
        InitialDelay = new Duration((long)(delaySec * 1e6)), FailureThreshold = failures, SuccessThreshold = successes,
    };

    private static Driver Unit(HealthSection health, RestartPolicy restart = RestartPolicy.OnFailure) =>
        new(new ServiceSection { ExecStart = True, Restart = restart }, health: health);

    /// <summary>The probe's timer fires and its run reports <paramref name="ok"/>.</summary>
    private static Driver Run(Driver d, ProbeRole role, bool ok, string detail = "x")
    {
        var timer = role switch { ProbeRole.Startup => TimerKind.StartupProbe, ProbeRole.Liveness => TimerKind.LivenessProbe, _ => TimerKind.ReadinessProbe };
        d.Send(new E.TimerElapsed(timer));
        var run = d.LastOf<A.RunProbe>();
        Assert.Equal(role, run.Role);
        return d.Send(new E.ProbeResult(role, ok, detail, run.Epoch));
    }

    [Fact]
    public void Liveness_restarts_with_result_health_after_exactly_FailureThreshold_failures_in_a_row()
    {
        var d = Unit(new HealthSection { LivenessProbe = Probe(failures: 3, delaySec: 2) }).StartRunning();
        Assert.Equal(SubState.Running, d.Sub);
        Assert.Contains(new A.ArmTimer(TimerKind.LivenessProbe, TimeSpan.FromSeconds(2)), d.Actions);

        d.Send(new E.TimerElapsed(TimerKind.LivenessProbe));
        Assert.Contains(new A.ArmTimer(TimerKind.LivenessProbe, TimeSpan.FromSeconds(1)), d.Last);
        d.Send(new E.ProbeResult(ProbeRole.Liveness, false, "connection refused", d.LastOf<A.RunProbe>().Epoch));
        Run(d, ProbeRole.Liveness, false);
        // A success in between starts the count over.
        Run(d, ProbeRole.Liveness, true);
        Run(d, ProbeRole.Liveness, false);
        Run(d, ProbeRole.Liveness, false);
        Assert.Equal(SubState.Running, d.Sub);
        Assert.Equal(2, d.Runtime.Health.Liveness.Failures);

        Run(d, ProbeRole.Liveness, false, "connection refused");
        Assert.Equal(SubState.FinalSigterm, d.Sub);
        Assert.Equal(UnitResult.Health, d.Runtime.Result);
        Assert.Equal("health", StateNames.Name(d.Runtime.Result));
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 15), d.Last);
        // SIGCONT after SIGTERM: a stopped (SIGSTOP) service acts on the stop at once.
        Assert.Equal(new A.Signal(SignalTarget.ControlGroup, 18), d.Last[^1]);
        Assert.Contains(d.Last.OfType<A.Log>(), l => l.Message.Contains("liveness probe failed 3 times in a row, last: connection refused"));

        d.Send(new E.MainExited(Supervisor.Linux.ExitInfo.Killed(15), false)).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.AutoRestart, d.Sub);
        Assert.Equal(1, d.Runtime.NRestarts);
        // The old run's probe timer fires once more and is not re-armed; its late result is stale.
        int oldEpoch = d.Runtime.Health.Epoch;
        d.Send(new E.TimerElapsed(TimerKind.LivenessProbe));
        Assert.Empty(d.Last);
        d.Send(new E.TimerElapsed(TimerKind.Restart)).Send(new E.MainStarted(200));
        Assert.Equal(SubState.Running, d.Sub);
        d.Send(new E.ProbeResult(ProbeRole.Liveness, false, "late", oldEpoch));
        Assert.Equal(0, d.Runtime.Health.Liveness.Failures);
    }

    [Fact]
    public void Liveness_failure_does_not_restart_under_Restart_no()
    {
        var d = Unit(new HealthSection { LivenessProbe = Probe(failures: 1) }, RestartPolicy.No).StartRunning();
        Run(d, ProbeRole.Liveness, false);
        d.Send(new E.MainExited(Supervisor.Linux.ExitInfo.Killed(15), false)).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.Failed, d.Sub);
        Assert.Equal(UnitResult.Health, d.Runtime.Result);
    }

    [Fact]
    public void Readiness_holds_the_unit_activating_until_it_passes_SuccessThreshold_times()
    {
        var d = Unit(new HealthSection { ReadinessProbe = Probe(failures: 2, successes: 2) }).StartRunning();
        Assert.Equal(SubState.Start, d.Sub);
        Assert.Equal(ActiveState.Activating, d.Runtime.Active);
        Assert.True(d.Runtime.AwaitingHealth);
        Assert.Contains(d.Last.OfType<A.Log>(), l => l.Message == "waiting for the readiness probe to pass");

        Run(d, ProbeRole.Readiness, false);
        Run(d, ProbeRole.Readiness, true);
        Assert.Equal(SubState.Start, d.Sub);
        Run(d, ProbeRole.Readiness, true);
        Assert.Equal(SubState.Running, d.Sub);
        Assert.Equal(ActiveState.Active, d.Runtime.Active);
        Assert.Equal("ready", d.Runtime.Health.ReadinessWord(d.Machine.Unit.Health));

        // Losing readiness later is shown, not acted on.
        Run(d, ProbeRole.Readiness, false);
        Run(d, ProbeRole.Readiness, false);
        Assert.Equal(SubState.Running, d.Sub);
        Assert.Equal(UnitResult.Success, d.Runtime.Result);
        Assert.Equal("not-ready", d.Runtime.Health.ReadinessWord(d.Machine.Unit.Health));
        Assert.Equal("failed (2/2): x", d.Runtime.Health.Readiness.Describe(d.Machine.Unit.Health.ReadinessProbe!));
    }

    [Fact]
    public void Start_timeout_while_waiting_for_readiness_names_the_probe()
    {
        var d = Unit(new HealthSection { ReadinessProbe = Probe() }).StartRunning();
        d.Send(new E.TimerElapsed(TimerKind.Start));
        Assert.Equal(UnitResult.Timeout, d.Runtime.Result);
        Assert.Contains("the readiness probe has not passed", d.Runtime.FailureReason);
    }

    [Fact]
    public void Startup_holds_liveness_and_readiness_off_until_it_succeeds()
    {
        var d = Unit(new HealthSection { StartupProbe = Probe(failures: 5), LivenessProbe = Probe(delaySec: 3), ReadinessProbe = Probe() }).StartRunning();
        Assert.Contains(new A.ArmTimer(TimerKind.StartupProbe, TimeSpan.Zero), d.Last);
        Assert.DoesNotContain(d.Last, a => a is A.ArmTimer { Timer: TimerKind.LivenessProbe or TimerKind.ReadinessProbe });
        Assert.Equal(SubState.Start, d.Sub);
        // A liveness timer left from somewhere cannot run it early.
        d.Send(new E.TimerElapsed(TimerKind.LivenessProbe));
        Assert.Empty(d.Last);

        Run(d, ProbeRole.Startup, false);
        Run(d, ProbeRole.Startup, true);
        Assert.True(d.Runtime.Health.StartupDone);
        Assert.Contains(new A.ArmTimer(TimerKind.LivenessProbe, TimeSpan.FromSeconds(3)), d.Last);
        Assert.Contains(new A.ArmTimer(TimerKind.ReadinessProbe, TimeSpan.Zero), d.Last);
        // Startup has done its work: its timer is not re-armed.
        d.Send(new E.TimerElapsed(TimerKind.StartupProbe));
        Assert.Empty(d.Last);
        Assert.Equal(SubState.Start, d.Sub); // readiness still to pass
        Run(d, ProbeRole.Readiness, true);
        Assert.Equal(SubState.Running, d.Sub);
    }

    [Fact]
    public void Startup_failing_past_its_threshold_fails_the_unit_with_result_health()
    {
        var d = Unit(new HealthSection { StartupProbe = Probe(failures: 2), LivenessProbe = Probe() }, RestartPolicy.No).StartRunning();
        Run(d, ProbeRole.Startup, false);
        Assert.Equal(SubState.Start, d.Sub);
        Run(d, ProbeRole.Startup, false, "exit status=1");
        Assert.Equal(SubState.FinalSigterm, d.Sub);
        Assert.Equal(UnitResult.Health, d.Runtime.Result);
        Assert.Contains("startup probe failed 2 times in a row", d.Runtime.FailureReason);
    }

    [Fact]
    public void A_failing_probe_logs_at_most_FailureThreshold_lines_per_bad_streak()
    {
        var d = Unit(new HealthSection { ReadinessProbe = Probe(failures: 2) }).StartRunning();
        for (int i = 0; i < 10; i++) Run(d, ProbeRole.Readiness, false, "HTTP 503");
        var failures = d.Actions.OfType<A.Log>().Where(l => l.Message.StartsWith("readiness probe failed (", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, failures.Count);
        Assert.Equal("readiness probe failed (2/2): HTTP 503", failures[1].Message);
    }

    [Fact]
    public void A_readiness_probe_removed_by_a_reload_no_longer_holds_the_start()
    {
        var d = Unit(new HealthSection { ReadinessProbe = Probe() }).StartRunning();
        Assert.Equal(SubState.Start, d.Sub);
        d.Machine.Update(d.Machine.Unit with { Health = new HealthSection() });
        d.Send(new E.TimerElapsed(TimerKind.ReadinessProbe));
        Assert.Equal(SubState.Running, d.Sub);
        Assert.DoesNotContain(d.Last, a => a is A.RunProbe);
    }

    [Fact]
    public void A_unit_without_probes_runs_none()
    {
        var d = Unit(new HealthSection()).StartRunning();
        Assert.Equal(SubState.Running, d.Sub);
        Assert.DoesNotContain(d.Actions, a => a is A.RunProbe or A.ArmTimer { Timer: TimerKind.LivenessProbe or TimerKind.ReadinessProbe or TimerKind.StartupProbe });
    }
}
