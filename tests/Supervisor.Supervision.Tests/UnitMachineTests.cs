using Supervisor.Linux;
using Supervisor.Units.Model;
using Supervisor.Units.Values;
using E = Supervisor.Supervision.UnitEvent;
using A = Supervisor.Supervision.UnitAction;

namespace Supervisor.Supervision.Tests;

/// <summary>Drives one unit's state machine with a fake clock, the way the daemon will.</summary>
internal sealed class Driver
{
    public FakeClock Clock { get; } = new();
    public UnitMachine Machine { get; }
    public UnitRuntime Runtime { get; private set; } = new();
    public List<UnitAction> Actions { get; } = [];
    private List<UnitAction> _last = [];

    public Driver(ServiceSection service, double jitter = 0, HealthSection? health = null)
    {
        var unit = new UnitDefinition { Name = "svc", Kind = UnitKind.Service, Sources = ["svc.toml"], Service = service, Health = health ?? new() };
        Machine = new UnitMachine(unit, Clock, () => jitter);
    }

    public Driver Send(UnitEvent e)
    {
        var o = Machine.Handle(Runtime, e);
        Runtime = o.Runtime;
        _last = [.. o.Actions];
        Actions.AddRange(o.Actions);
        return this;
    }

    public IReadOnlyList<UnitAction> Last => _last;
    public SubState Sub => Runtime.Sub;

    public T LastOf<T>() where T : UnitAction => _last.OfType<T>().Last();

    /// <summary>Start and get the main process running (for simple/exec).</summary>
    public Driver StartRunning(int pid = 100) => Send(new E.Start()).Send(new E.MainStarted(pid));

    /// <summary>The main process exits and the cgroup empties.</summary>
    public Driver Crash(ExitInfo exit, bool oom = false) => Send(new E.MainExited(exit, oom)).Send(new E.CgroupEmpty());
}

public class UnitMachineTests
{
    private static readonly Command True = new(["/bin/true"], false);

    private static ServiceSection Svc(RestartPolicy restart = RestartPolicy.No) =>
        new() { ExecStart = True, Restart = restart };

    [Fact]
    public void Simple_service_starts_runs_and_is_restarted_after_a_crash()
    {
        var d = new Driver(Svc(RestartPolicy.OnFailure));
        d.Send(new E.Start());
        Assert.Equal(SubState.Start, d.Sub);
        Assert.Equal(ActiveState.Activating, d.Runtime.Active);
        Assert.Contains(new A.SpawnMain(), d.Last);
        Assert.Contains(new A.ArmTimer(TimerKind.Start, TimeSpan.FromSeconds(90)), d.Last);

        d.Send(new E.MainStarted(4242));
        Assert.Equal(SubState.Running, d.Sub);
        Assert.Equal(4242, d.Runtime.MainPid);
        Assert.Contains(new A.CancelTimer(TimerKind.Start), d.Last);

        d.Send(new E.MainExited(ExitInfo.Exited(3), false));
        Assert.Equal(SubState.FinalSigterm, d.Sub);
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 15), d.Last);
        Assert.Contains(new A.WatchCgroupEmpty(), d.Last);
        Assert.Equal(UnitResult.ExitCode, d.Runtime.Result);

        d.Send(new E.CgroupEmpty());
        Assert.Equal(SubState.AutoRestart, d.Sub);
        Assert.Equal(1, d.Runtime.NRestarts);
        Assert.Equal(new A.ArmTimer(TimerKind.Restart, TimeSpan.FromMilliseconds(100)), d.LastOf<A.ArmTimer>());

        d.Send(new E.TimerElapsed(TimerKind.Restart));
        Assert.Equal(SubState.Start, d.Sub);
        Assert.Contains(new A.SpawnMain(), d.Last);
        Assert.Equal(UnitResult.Success, d.Runtime.Result);
    }

    public static TheoryData<RestartPolicy, string, bool> RestartMatrix()
    {
        var data = new TheoryData<RestartPolicy, string, bool>();
        //                     clean  code   signal timeout watchdog — systemd.service(5), table 2
        var table = new Dictionary<RestartPolicy, bool[]>
        {
            [RestartPolicy.No] = [false, false, false, false, false],
            [RestartPolicy.Always] = [true, true, true, true, true],
            [RestartPolicy.OnSuccess] = [true, false, false, false, false],
            [RestartPolicy.OnFailure] = [false, true, true, true, true],
            [RestartPolicy.OnAbnormal] = [false, false, true, true, true],
            [RestartPolicy.OnAbort] = [false, false, true, false, false],
            [RestartPolicy.OnWatchdog] = [false, false, false, false, true],
        };
        string[] causes = ["clean", "code", "signal", "timeout", "watchdog"];
        foreach (var (policy, row) in table)
            for (int i = 0; i < causes.Length; i++)
                data.Add(policy, causes[i], row[i]);
        return data;
    }

    /// <summary>Every Restart= value × every exit cause, through the real state machine.</summary>
    [Theory]
    [MemberData(nameof(RestartMatrix))]
    public void Restart_decision_for_every_policy_and_cause(RestartPolicy policy, string cause, bool restarts)
    {
        var d = new Driver(Svc(policy) with { Type = cause == "timeout" ? ServiceType.Notify : ServiceType.Simple, WatchdogSec = Duration.FromSeconds(5) });
        d.Send(new E.Start()).Send(new E.MainStarted(7));
        switch (cause)
        {
            case "clean": d.Send(new E.MainExited(ExitInfo.Exited(0), false)); break;
            case "code": d.Send(new E.MainExited(ExitInfo.Exited(1), false)); break;
            case "signal": d.Send(new E.MainExited(ExitInfo.Killed(9), false)); break;
            case "timeout": d.Send(new E.TimerElapsed(TimerKind.Start)); break;
            case "watchdog": d.Send(new E.Ready()).Send(new E.TimerElapsed(TimerKind.Watchdog)); break;
        }
        d.Send(new E.CgroupEmpty());
        var expected = restarts ? SubState.AutoRestart : cause == "clean" ? SubState.Dead : SubState.Failed;
        Assert.Equal(expected, d.Sub);
        Assert.Equal(restarts ? 1 : 0, d.Runtime.NRestarts);
    }

    [Fact]
    public void Results_name_the_failure()
    {
        Assert.Equal(UnitResult.Signal, new Driver(Svc()).StartRunning().Crash(ExitInfo.Killed(11)).Runtime.Result);
        Assert.Equal(UnitResult.CoreDump, new Driver(Svc()).StartRunning().Crash(ExitInfo.Killed(11, core: true)).Runtime.Result);
        Assert.Equal(UnitResult.OomKill, new Driver(Svc()).StartRunning().Crash(ExitInfo.Killed(9), oom: true).Runtime.Result);
        var setup = new Driver(Svc()).Send(new E.Start()).Send(new E.SetupFailed("cannot apply AppArmorProfile")).Send(new E.CgroupEmpty());
        Assert.Equal((SubState.Failed, UnitResult.Resources), (setup.Sub, setup.Runtime.Result));
    }

    [Fact]
    public void Backoff_grows_through_the_steps_and_resets_after_a_stable_period()
    {
        var s = Svc(RestartPolicy.Always) with
        {
            RestartSec = Duration.FromSeconds(1), RestartSteps = 3, RestartMaxDelaySec = Duration.FromSeconds(8),
            RestartResetSec = Duration.FromSeconds(30), StartLimitIntervalSec = Duration.Zero,
        };
        var d = new Driver(s);
        d.StartRunning();
        var delays = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            d.Clock.Advance(TimeSpan.FromSeconds(1));
            d.Crash(ExitInfo.Exited(1));
            delays.Add(d.LastOf<A.ArmTimer>().After.TotalSeconds);
            d.Send(new E.TimerElapsed(TimerKind.Restart)).Send(new E.MainStarted(100 + i));
        }
        Assert.Equal([1.0, 2.0, 4.0, 8.0, 8.0], delays);

        // Up for 30 s: the next crash starts the backoff over.
        d.Clock.Advance(TimeSpan.FromSeconds(30));
        d.Crash(ExitInfo.Exited(1));
        Assert.Equal(1.0, d.LastOf<A.ArmTimer>().After.TotalSeconds);
        Assert.Equal(6, d.Runtime.NRestarts);
    }

    [Fact]
    public void Jitter_spreads_the_restart_delay()
    {
        var s = Svc(RestartPolicy.Always) with { RestartSec = Duration.FromSeconds(10), RestartJitter = new Percent(2000) };
        var d = new Driver(s, jitter: 0.5);
        d.StartRunning().Crash(ExitInfo.Exited(1));
        Assert.Equal(TimeSpan.FromSeconds(11), d.LastOf<A.ArmTimer>().After);
    }

    [Fact]
    public void Too_many_starts_hit_the_start_limit_until_reset_failed()
    {
        var s = Svc(RestartPolicy.Always) with { StartLimitBurst = 3, StartLimitIntervalSec = Duration.FromSeconds(10), RestartSec = Duration.Zero };
        var d = new Driver(s);
        d.StartRunning();
        for (int i = 0; i < 2; i++)
            d.Crash(ExitInfo.Exited(1)).Send(new E.TimerElapsed(TimerKind.Restart)).Send(new E.MainStarted(200 + i));
        Assert.Equal(SubState.Running, d.Sub);
        d.Crash(ExitInfo.Exited(1)).Send(new E.TimerElapsed(TimerKind.Restart));
        Assert.Equal((SubState.Failed, UnitResult.StartLimitHit), (d.Sub, d.Runtime.Result));
        Assert.DoesNotContain(new A.SpawnMain(), d.Last);

        d.Send(new E.Start());
        Assert.Equal(SubState.Failed, d.Sub);

        d.Send(new E.ResetFailed());
        Assert.Equal(SubState.Dead, d.Sub);
        d.Send(new E.Start());
        Assert.Contains(new A.SpawnMain(), d.Last);
    }

    [Fact]
    public void Notify_service_is_active_only_after_READY()
    {
        var d = new Driver(Svc() with { Type = ServiceType.Notify });
        d.Send(new E.Start()).Send(new E.MainStarted(9));
        Assert.Equal(SubState.Start, d.Sub);
        d.Send(new E.Ready());
        Assert.Equal(SubState.Running, d.Sub);
    }

    [Fact]
    public void Notify_service_that_never_gets_ready_times_out_and_is_killed()
    {
        var d = new Driver(Svc() with { Type = ServiceType.Notify, TimeoutStopSec = Duration.FromSeconds(5) });
        d.Send(new E.Start()).Send(new E.MainStarted(9)).Send(new E.TimerElapsed(TimerKind.Start));
        Assert.Equal((SubState.FinalSigterm, UnitResult.Timeout), (d.Sub, d.Runtime.Result));
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 15), d.Last);
        d.Send(new E.TimerElapsed(TimerKind.Stop));
        Assert.Equal(SubState.FinalSigkill, d.Sub);
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 9), d.Last);
        d.Send(new E.MainExited(ExitInfo.Killed(9), false)).Send(new E.CgroupEmpty());
        Assert.Equal((SubState.Failed, UnitResult.Timeout), (d.Sub, d.Runtime.Result));
    }

    [Fact]
    public void EXTEND_TIMEOUT_USEC_rearms_the_start_timer() =>
        Assert.Contains(new A.ArmTimer(TimerKind.Start, TimeSpan.FromSeconds(20)),
            new Driver(Svc() with { Type = ServiceType.Notify }).Send(new E.Start()).Send(new E.MainStarted(9)).Send(new E.ExtendTimeout(TimeSpan.FromSeconds(20))).Last);

    [Fact]
    public void Watchdog_pings_rearm_and_a_miss_kills_with_SIGABRT_and_restarts_on_watchdog()
    {
        var d = new Driver(Svc(RestartPolicy.OnWatchdog) with { WatchdogSec = Duration.FromSeconds(2) });
        d.StartRunning(50);
        Assert.Contains(new A.ArmTimer(TimerKind.Watchdog, TimeSpan.FromSeconds(2)), d.Last);
        d.Send(new E.WatchdogPing());
        Assert.Equal([new A.ArmTimer(TimerKind.Watchdog, TimeSpan.FromSeconds(2))], d.Last);
        d.Send(new E.TimerElapsed(TimerKind.Watchdog));
        Assert.Equal(UnitResult.Watchdog, d.Runtime.Result);
        Assert.Contains(new A.Signal(SignalTarget.Main, 6), d.Last);
        d.Send(new E.MainExited(ExitInfo.Killed(6, core: true), false)).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.AutoRestart, d.Sub);
        Assert.Equal(UnitResult.Watchdog, d.Runtime.Result);
    }

    [Fact]
    public void Oneshot_with_RemainAfterExit_stays_active_after_success()
    {
        var d = new Driver(Svc() with { Type = ServiceType.Oneshot, RemainAfterExit = true });
        d.Send(new E.Start()).Send(new E.MainStarted(5));
        Assert.Equal(SubState.Start, d.Sub);
        d.Send(new E.MainExited(ExitInfo.Exited(0), false));
        Assert.Equal((SubState.Exited, ActiveState.Active), (d.Sub, d.Runtime.Active));
        d.Send(new E.Stop()).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.Dead, d.Sub);
    }

    [Fact]
    public void Oneshot_without_RemainAfterExit_is_dead_after_success() =>
        Assert.Equal(SubState.Dead, new Driver(Svc() with { Type = ServiceType.Oneshot }).Send(new E.Start()).Send(new E.MainStarted(5)).Send(new E.MainExited(ExitInfo.Exited(0), false)).Sub);

    [Fact]
    public void Forking_service_is_active_once_the_daemons_pid_is_known()
    {
        var d = new Driver(Svc() with { Type = ServiceType.Forking, PIDFile = "/run/d.pid" });
        d.Send(new E.Start()).Send(new E.MainStarted(10)).Send(new E.MainExited(ExitInfo.Exited(0), false));
        Assert.Equal([new A.FindMainPid()], d.Last);
        Assert.Equal(SubState.Start, d.Sub);
        d.Send(new E.MainPidChanged(11));
        Assert.Equal((SubState.Running, 11), (d.Sub, d.Runtime.MainPid!.Value));
    }

    [Fact]
    public void ExecStartPre_runs_in_order_and_a_failure_stops_the_start_unless_prefixed()
    {
        var pre = new Command(["/bin/prep"], false);
        var optional = new Command(["/bin/optional"], true);
        var s = Svc() with { ExecStartPre = [optional, pre], ExecStartPost = [new Command(["/bin/post"], false)] };
        var d = new Driver(s);
        d.Send(new E.Start());
        Assert.Equal([new A.ArmTimer(TimerKind.Start, TimeSpan.FromSeconds(90)), new A.SpawnControl(Phase.StartPre, optional)], d.Last);
        d.Send(new E.ControlExited(ExitInfo.Exited(1)));   // "-" prefix: ignored
        Assert.Contains(new A.SpawnControl(Phase.StartPre, pre), d.Last);
        d.Send(new E.ControlExited(ExitInfo.Exited(0)));
        Assert.Contains(new A.SpawnMain(), d.Last);
        d.Send(new E.MainStarted(3));
        Assert.Equal(SubState.StartPost, d.Sub);
        d.Send(new E.ControlExited(ExitInfo.Exited(0)));
        Assert.Equal(SubState.Running, d.Sub);

        var failing = new Driver(s with { ExecStartPre = [pre] });
        failing.Send(new E.Start()).Send(new E.ControlExited(ExitInfo.Exited(2))).Send(new E.CgroupEmpty());
        Assert.Equal((SubState.Failed, UnitResult.ExitCode), (failing.Sub, failing.Runtime.Result));
        Assert.DoesNotContain(new A.SpawnMain(), failing.Actions);
    }

    [Fact]
    public void Requested_stop_runs_ExecStop_then_KillSignal_then_ExecStopPost_and_never_restarts()
    {
        var stop = new Command(["/bin/stop"], false);
        var post = new Command(["/bin/cleanup"], false);
        var d = new Driver(Svc(RestartPolicy.Always) with { ExecStop = [stop], ExecStopPost = [post], KillSignal = 2 });
        d.StartRunning();
        d.Send(new E.Stop());
        Assert.Equal(SubState.Stop, d.Sub);
        Assert.Contains(new A.SpawnControl(Phase.Stop, stop), d.Last);
        d.Send(new E.ControlExited(ExitInfo.Exited(0)));
        Assert.Equal(SubState.StopSigterm, d.Sub);
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 2), d.Last);
        d.Send(new E.MainExited(ExitInfo.Killed(2), false)).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.StopPost, d.Sub);
        Assert.Contains(new A.SpawnControl(Phase.StopPost, post), d.Last);
        d.Send(new E.ControlExited(ExitInfo.Exited(0)));
        Assert.Equal((SubState.Dead, UnitResult.Success), (d.Sub, d.Runtime.Result));
        Assert.Equal(0, d.Runtime.NRestarts);
    }

    [Fact]
    public void KillMode_mixed_and_process_signal_the_main_process()
    {
        var mixed = new Driver(Svc() with { KillMode = KillMode.Mixed }).StartRunning(77).Send(new E.Stop());
        Assert.Contains(new A.Signal(SignalTarget.Main, 15), mixed.Last);
        var process = new Driver(Svc() with { KillMode = KillMode.Process }).StartRunning(77).Send(new E.Stop());
        Assert.Contains(new A.Signal(SignalTarget.Main, 15), process.Last);
        Assert.DoesNotContain(process.Last, a => a is A.Signal { Target: SignalTarget.ControlGroup });
    }

    [Fact]
    public void SendSIGKILL_off_leaves_stragglers_after_the_timeout()
    {
        var d = new Driver(Svc() with { SendSIGKILL = false }).StartRunning().Send(new E.Stop()).Send(new E.TimerElapsed(TimerKind.Stop));
        Assert.DoesNotContain(d.Last, a => a is A.Signal);
    }

    [Fact]
    public void Restart_request_stops_then_starts_again()
    {
        var d = new Driver(Svc()).StartRunning();
        d.Send(new E.Restart());
        Assert.Equal(SubState.StopSigterm, d.Sub);
        d.Send(new E.MainExited(ExitInfo.Killed(15), false)).Send(new E.CgroupEmpty());
        Assert.Equal(SubState.Start, d.Sub);
        Assert.Contains(new A.SpawnMain(), d.Last);
        Assert.Equal(0, d.Runtime.NRestarts);   // NRestarts counts automatic restarts only
    }

    [Fact]
    public void An_exit_of_the_previous_runs_process_does_not_end_the_new_run()
    {
        var d = new Driver(Svc()).StartRunning(100);
        d.Send(new E.Restart());
        // The cgroup is reported empty before the reaper delivers the old process's exit.
        d.Send(new E.CgroupEmpty());
        Assert.Equal(SubState.Start, d.Sub);
        d.Send(new E.MainStarted(200));
        d.Send(new E.MainExited(ExitInfo.Killed(15), false, Pid: 100));
        Assert.Equal((SubState.Running, 200), (d.Sub, d.Runtime.MainPid!.Value));
        d.Send(new E.MainExited(ExitInfo.Exited(1), false, Pid: 200));
        Assert.Equal(SubState.FinalSigterm, d.Sub);
    }

    [Fact]
    public void A_stop_that_arrives_while_a_crashed_service_is_being_cleaned_up_prevents_the_restart()
    {
        // Found by the crash-loop benchmark: SIGTERM to the supervisor while a Restart=always unit
        // was in final-sigterm was ignored, and the unit kept restarting forever.
        var d = new Driver(Svc(RestartPolicy.Always)).StartRunning();
        d.Send(new E.MainExited(ExitInfo.Exited(1), false));
        Assert.Equal(SubState.FinalSigterm, d.Sub);
        d.Send(new E.Stop());
        d.Send(new E.CgroupEmpty());
        Assert.Equal(SubState.Failed, d.Sub);
        Assert.DoesNotContain(d.Last, a => a is A.ArmTimer { Timer: TimerKind.Restart });

        var r = new Driver(Svc(RestartPolicy.No)).StartRunning();
        r.Send(new E.MainExited(ExitInfo.Exited(0), false)).Send(new E.Restart()).Send(new E.CgroupEmpty());
        Assert.Contains(new A.SpawnMain(), r.Last);
    }

    [Fact]
    public void Stop_during_auto_restart_cancels_it()
    {
        var d = new Driver(Svc(RestartPolicy.Always)).StartRunning().Crash(ExitInfo.Exited(1));
        d.Send(new E.Stop());
        Assert.Equal(SubState.Dead, d.Sub);
        Assert.Contains(new A.CancelTimer(TimerKind.Restart), d.Last);
        Assert.Empty(d.Send(new E.TimerElapsed(TimerKind.Restart)).Last);
    }

    [Fact]
    public void Reload_runs_ExecReload_or_is_refused_with_a_reason()
    {
        var reload = new Command(["/bin/kill", "-HUP", "1"], false);
        var d = new Driver(Svc() with { ExecReload = [reload] }).StartRunning();
        d.Send(new E.Reload());
        Assert.Equal((SubState.Reload, ActiveState.Reloading), (d.Sub, d.Runtime.Active));
        d.Send(new E.ControlExited(ExitInfo.Exited(0)));
        Assert.Equal(SubState.Running, d.Sub);

        var none = new Driver(Svc()).StartRunning().Send(new E.Reload());
        Assert.Equal(new A.Reject("unit 'svc' has no ExecReload"), Assert.Single(none.Last));
        var inactive = new Driver(Svc()).Send(new E.Reload());
        Assert.Equal(new A.Reject("unit 'svc' is inactive; only an active unit can reload"), Assert.Single(inactive.Last));
    }

    [Fact]
    public void A_unit_with_a_bad_file_refuses_to_start()
    {
        var d = new Driver(Svc());
        var o = d.Machine.Handle(new UnitRuntime { Sub = SubState.BadSetting }, new E.Start());
        Assert.IsType<A.Reject>(Assert.Single(o.Actions));
        Assert.Equal(SubState.BadSetting, o.Runtime.Sub);
    }

    [Fact]
    public void Events_that_do_not_apply_are_ignored()
    {
        var d = new Driver(Svc());
        Assert.Empty(d.Send(new E.Ready()).Last);
        Assert.Empty(d.Send(new E.CgroupEmpty()).Last);
        Assert.Empty(d.Send(new E.Stop()).Last);
        Assert.Equal(SubState.Dead, d.Sub);
    }
}
