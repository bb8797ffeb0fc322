using Supervisor.Linux;
using CsCheck;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Supervision.Tests;

internal sealed class FakeClock : TimeProvider
{
    public long Ticks { get; private set; } = 1_000_000;
    public override long TimestampFrequency => 1_000_000; // microseconds
    public override long GetTimestamp() => Ticks;
    public void Advance(TimeSpan by) => Ticks += (long)by.TotalMicroseconds;
}

/// <summary>
/// systemd.service(5), "Table 2. Exit causes and the effect of the Restart= settings", row by
/// row as the man page prints it: X where systemd restarts the service. Each cell is checked by
/// driving a unit's state machine through that exit cause to its end and seeing whether it
/// schedules a restart, so the test does not read (or restate) the production table.
/// </summary>
public class RestartTableTests
{
    private static readonly RestartPolicy[] Columns =
        [RestartPolicy.No, RestartPolicy.Always, RestartPolicy.OnSuccess, RestartPolicy.OnFailure, RestartPolicy.OnAbnormal, RestartPolicy.OnAbort, RestartPolicy.OnWatchdog];

    [Theory]
    //          Restart settings/Exit causes   no   always  on-success  on-failure  on-abnormal  on-abort  on-watchdog
    [InlineData("Clean exit code or signal",   "",  "X",    "X",        "",         "",          "",       "")]
    [InlineData("Unclean exit code",           "",  "X",    "",         "X",        "",          "",       "")]
    [InlineData("Unclean signal",              "",  "X",    "",         "X",        "X",         "X",      "")]
    [InlineData("Timeout",                     "",  "X",    "",         "X",        "X",         "",       "")]
    [InlineData("Watchdog",                    "",  "X",    "",         "X",        "X",         "",       "X")]
    public void Matches_table_2_of_systemd_service_5(string cause, string no, string always, string onSuccess, string onFailure, string onAbnormal, string onAbort, string onWatchdog)
    {
        string[] row = [no, always, onSuccess, onFailure, onAbnormal, onAbort, onWatchdog];
        var wrong = new List<string>();
        for (int i = 0; i < Columns.Length; i++)
        {
            foreach (var (how, restarted) in Run(cause, Columns[i]))
                if (restarted != (row[i] == "X"))
                    wrong.Add($"Restart={StateNames.Kebab(Columns[i].ToString())} after {how}: {(restarted ? "restarted" : "not restarted")}, systemd {(row[i] == "X" ? "restarts" : "does not")}");
        }
        Assert.Empty(wrong);
    }

    /// <summary>Every way the machine meets this exit cause, and whether the unit then waits to restart.</summary>
    private static IEnumerable<(string How, bool Restarted)> Run(string cause, RestartPolicy policy)
    {
        var service = new ServiceSection { ExecStart = new Command(["/bin/true"], false), Restart = policy, WatchdogSec = Duration.FromSeconds(10) };
        Driver Exit(ExitInfo e) => new Driver(service).StartRunning().Crash(e);
        switch (cause)
        {
            case "Clean exit code or signal":
                yield return ("exit 0", Restarted(Exit(ExitInfo.Exited(0))));
                yield return ("SIGTERM", Restarted(Exit(ExitInfo.Killed(15))));
                break;
            case "Unclean exit code":
                yield return ("exit 1", Restarted(Exit(ExitInfo.Exited(1))));
                break;
            case "Unclean signal":
                yield return ("SIGKILL", Restarted(Exit(ExitInfo.Killed(9))));
                yield return ("SIGSEGV with a core dump", Restarted(Exit(ExitInfo.Killed(11, core: true))));
                break;
            case "Timeout":
                yield return ("TimeoutStartSec", Restarted(new Driver(service).Send(new UnitEvent.Start())
                    .Send(new UnitEvent.TimerElapsed(TimerKind.Start)).Send(new UnitEvent.CgroupEmpty())));
                break;
            case "Watchdog":
                yield return ("WatchdogSec", Restarted(new Driver(service).StartRunning()
                    .Send(new UnitEvent.TimerElapsed(TimerKind.Watchdog)).Send(new UnitEvent.CgroupEmpty())));
                break;
            default:
                throw new ArgumentException($"no such row in Table 2: '{cause}'", nameof(cause));
        }
    }

    private static bool Restarted(Driver d) => d.Sub == SubState.AutoRestart;

    private static Driver Exit(ServiceSection service, ExitInfo exit) => new Driver(service).StartRunning().Crash(exit);

    private static ServiceSection With(RestartPolicy policy, ExitStatusSet? success = null, ExitStatusSet? prevent = null, ExitStatusSet? force = null) => new()
    {
        ExecStart = new Command(["/bin/true"], false),
        Restart = policy,
        SuccessExitStatus = success ?? new ExitStatusSet([], []),
        RestartPreventExitStatus = prevent ?? new ExitStatusSet([], []),
        RestartForceExitStatus = force ?? new ExitStatusSet([], []),
    };

    [Fact]
    public void SuccessExitStatus_moves_a_code_or_signal_to_the_clean_row()
    {
        var success = new ExitStatusSet([75], [10]);
        var onFailure = Exit(With(RestartPolicy.OnFailure, success), ExitInfo.Exited(75));
        Assert.Equal((SubState.Dead, UnitResult.Success), (onFailure.Sub, onFailure.Runtime.Result));
        Assert.False(Restarted(Exit(With(RestartPolicy.OnAbnormal, success), ExitInfo.Killed(10))));
        Assert.True(Restarted(Exit(With(RestartPolicy.OnSuccess, success), ExitInfo.Exited(75))));
        Assert.True(Restarted(Exit(With(RestartPolicy.OnFailure, success), ExitInfo.Exited(76))));
    }

    [Fact]
    public void RestartPreventExitStatus_keeps_a_listed_code_or_signal_down_even_with_always()
    {
        var prevent = new ExitStatusSet([64], [10]);
        var code = Exit(With(RestartPolicy.Always, prevent: prevent), ExitInfo.Exited(64));
        Assert.Equal((SubState.Failed, UnitResult.ExitCode), (code.Sub, code.Runtime.Result));
        Assert.False(Restarted(Exit(With(RestartPolicy.Always, prevent: prevent), ExitInfo.Killed(10))));
        Assert.True(Restarted(Exit(With(RestartPolicy.Always, prevent: prevent), ExitInfo.Exited(65))));
    }

    [Fact]
    public void RestartForceExitStatus_restarts_a_listed_code_or_signal_whatever_Restart_says()
    {
        Assert.True(Restarted(Exit(With(RestartPolicy.No, force: new ExitStatusSet([0], [])), ExitInfo.Exited(0))));
        Assert.True(Restarted(Exit(With(RestartPolicy.OnSuccess, force: new ExitStatusSet([], [9])), ExitInfo.Killed(9))));
        Assert.False(Restarted(Exit(With(RestartPolicy.No, force: new ExitStatusSet([0], [])), ExitInfo.Exited(3))));
    }

    [Fact]
    public void A_status_in_both_lists_is_prevented_as_systemd_tests_prevent_first()
    {
        var both = new ExitStatusSet([42], []);
        Assert.False(Restarted(Exit(With(RestartPolicy.Always, prevent: both, force: both), ExitInfo.Exited(42))));
    }

    [Fact]
    public void A_stop_on_request_never_restarts_even_with_a_forced_status()
    {
        var d = new Driver(With(RestartPolicy.Always, force: new ExitStatusSet([], [15]))).StartRunning()
            .Send(new UnitEvent.Stop()).Crash(ExitInfo.Killed(15));
        Assert.Equal(SubState.Dead, d.Sub);
    }

    [Fact]
    public void An_unknown_exit_status_is_in_the_unclean_exit_code_row_and_matches_no_list()
    {
        var lists = new ExitStatusSet([255], [9]);
        Assert.Equal(ExitCause.UncleanCode, ExitClassifier.Classify(ExitInfo.Unknown, new ServiceSection()));
        Assert.True(Restarted(Exit(With(RestartPolicy.OnFailure, prevent: lists), ExitInfo.Unknown)));
        Assert.False(Restarted(Exit(With(RestartPolicy.OnAbnormal, force: lists), ExitInfo.Unknown)));
        Assert.Equal(UnitResult.ExitCode, Exit(With(RestartPolicy.No, success: lists), ExitInfo.Unknown).Runtime.Result);
    }

    [Theory]
    [InlineData(0, null, false, ServiceType.Simple, true)]
    [InlineData(1, null, false, ServiceType.Simple, false)]
    [InlineData(null, 15, false, ServiceType.Simple, true)]     // SIGTERM is clean
    [InlineData(null, 13, false, ServiceType.Simple, true)]     // SIGPIPE
    [InlineData(null, 15, false, ServiceType.Oneshot, false)]   // … but not for oneshot
    [InlineData(null, 9, false, ServiceType.Simple, false)]
    [InlineData(null, 6, true, ServiceType.Simple, false)]
    public void Clean_exits(int? code, int? signal, bool core, ServiceType type, bool clean) =>
        Assert.Equal(clean, ExitClassifier.IsClean(new ExitInfo(code, signal, core), new ServiceSection { Type = type }));

    [Fact]
    public void SuccessExitStatus_makes_a_code_or_signal_clean()
    {
        var s = new ServiceSection { SuccessExitStatus = new ExitStatusSet([75], [10]) };
        Assert.Equal(ExitCause.Clean, ExitClassifier.Classify(ExitInfo.Exited(75), s));
        Assert.Equal(ExitCause.Clean, ExitClassifier.Classify(ExitInfo.Killed(10), s));
        Assert.Equal(ExitCause.UncleanCode, ExitClassifier.Classify(ExitInfo.Exited(76), s));
    }

    [Fact]
    public void Results_name_the_cause()
    {
        var s = new ServiceSection();
        Assert.Equal(UnitResult.Success, ExitClassifier.ResultOf(ExitInfo.Exited(0), s, false));
        Assert.Equal(UnitResult.ExitCode, ExitClassifier.ResultOf(ExitInfo.Exited(3), s, false));
        Assert.Equal(UnitResult.Signal, ExitClassifier.ResultOf(ExitInfo.Killed(9), s, false));
        Assert.Equal(UnitResult.CoreDump, ExitClassifier.ResultOf(ExitInfo.Killed(11, true), s, false));
        Assert.Equal(UnitResult.OomKill, ExitClassifier.ResultOf(ExitInfo.Killed(9), s, true));
        Assert.Equal("exit-code", StateNames.Name(UnitResult.ExitCode));
        Assert.Equal("auto-restart", StateNames.Name(SubState.AutoRestart));
        Assert.Equal(ActiveState.Activating, StateNames.ActiveOf(SubState.AutoRestart));
    }
}

public class ExitInfoTests
{
    [Theory]
    [InlineData(0, null, 0)]
    [InlineData(3, null, 3)]
    [InlineData(null, 9, 137)]
    [InlineData(null, 15, 143)]
    public void The_shell_status_is_the_code_or_128_plus_the_signal(int? code, int? signal, int shell) =>
        Assert.Equal(shell, new ExitInfo(code, signal, false).ShellStatus);

    [Theory]
    [InlineData(0, "status=0")]
    [InlineData(128, "status=128")]
    [InlineData(129, "signal=SIGHUP")]
    [InlineData(137, "signal=SIGKILL")]
    [InlineData(192, "signal=SIG64")]
    [InlineData(193, "status=193")]
    [InlineData(255, "status=255")]
    public void A_status_an_init_reported_for_its_child_is_decoded_back(int status, string exit)
    {
        Assert.Equal(exit, ExitInfo.FromShellStatus(status).ToString());
        Assert.Equal(status, ExitInfo.FromShellStatus(status).ShellStatus);
    }

    [Fact]
    public void An_unknown_status_has_no_number_and_says_why()
    {
        Assert.True(ExitInfo.Unknown.IsUnknown);
        Assert.False(ExitInfo.Exited(255).IsUnknown);
        Assert.Null(ExitInfo.Unknown.ShellStatus);
        Assert.Equal("status unknown (not a child of this supervisor)", ExitInfo.Unknown.ToString());
        Assert.False(ExitClassifier.IsClean(ExitInfo.Unknown, new ServiceSection()));
    }
}

public class BackoffTests
{
    [Fact]
    public void Without_steps_every_restart_waits_RestartSec()
    {
        var s = new ServiceSection { RestartSec = Duration.FromMilliseconds(250) };
        Assert.All(Enumerable.Range(1, 10), i => Assert.Equal(TimeSpan.FromMilliseconds(250), Backoff.Delay(s, i)));
    }

    [Fact]
    public void Steps_grow_geometrically_to_the_max_as_systemd_computes()
    {
        // RestartSec=2s, RestartSteps=5, RestartMaxDelaySec=120s: 2, 4.5, 10.3, 23.3, 52.9, 120 s (a third party measured 2.1, 4.6, 10.4, 23.4, 52.9 on real systemd).
        var s = new ServiceSection { RestartSec = Duration.FromSeconds(2), RestartSteps = 5, RestartMaxDelaySec = Duration.FromSeconds(120) };
        var delays = Enumerable.Range(1, 8).Select(i => Math.Round(Backoff.Delay(s, i).TotalSeconds, 1)).ToArray();
        Assert.Equal([2.0, 4.5, 10.3, 23.3, 52.9, 120.0, 120.0, 120.0], delays);
    }

    [Fact]
    public void Jitter_adds_at_most_its_share()
    {
        var s = new ServiceSection { RestartSec = Duration.FromSeconds(10), RestartJitter = new Percent(1000) };
        Assert.Equal(TimeSpan.FromSeconds(10), Backoff.Delay(s, 1, jitterSample: 0));
        Assert.Equal(TimeSpan.FromSeconds(10.5), Backoff.Delay(s, 1, jitterSample: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(11), Backoff.Delay(s, 1, jitterSample: 1));
    }

    [Fact]
    public void Backoff_resets_only_after_the_declared_stable_period()
    {
        var never = new ServiceSection();
        Assert.False(Backoff.ShouldReset(never, TimeSpan.FromDays(365)));
        var s = new ServiceSection { RestartResetSec = Duration.FromSeconds(30) };
        Assert.False(Backoff.ShouldReset(s, TimeSpan.FromSeconds(29.9)));
        Assert.True(Backoff.ShouldReset(s, TimeSpan.FromSeconds(30)));
    }
}

public class StartLimiterTests
{
    [Fact]
    public void More_than_burst_starts_in_the_interval_hit_the_limit()
    {
        var clock = new FakeClock();
        var s = new ServiceSection { StartLimitBurst = 3, StartLimitIntervalSec = Duration.FromSeconds(10) };
        var limiter = new StartLimiter(clock);
        Assert.True(limiter.TryStart(s));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryStart(s));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryStart(s));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(limiter.TryStart(s));
        // The first start leaves the 10 s window at t=10 s.
        clock.Advance(TimeSpan.FromSeconds(7));
        Assert.True(limiter.TryStart(s));
    }

    [Fact]
    public void Reset_clears_the_counter_and_interval_0_disables_the_limit()
    {
        var clock = new FakeClock();
        var s = new ServiceSection { StartLimitBurst = 1 };
        var limiter = new StartLimiter(clock);
        Assert.True(limiter.TryStart(s));
        Assert.False(limiter.TryStart(s));
        limiter.Reset();
        Assert.True(limiter.TryStart(s));
        var off = s with { StartLimitIntervalSec = Duration.Zero };
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(limiter.TryStart(off)));
    }
}

public class NotifyMessageTests
{
    [Fact]
    public void Parses_every_sd_notify_variable()
    {
        var m = NotifyMessage.Parse("READY=1\nSTATUS=Serving 3 clients\nMAINPID=4242\nWATCHDOG=1\nEXTEND_TIMEOUT_USEC=5000000\nERRNO=2\nX_CUSTOM=yes\n"u8);
        Assert.True(m.Ready);
        Assert.True(m.Watchdog);
        Assert.Equal("Serving 3 clients", m.Status);
        Assert.Equal(4242, m.MainPid);
        Assert.Equal(5_000_000, m.ExtendTimeoutUsec);
        Assert.Equal(2, m.Errno);
        Assert.Equal([new("X_CUSTOM", "yes")], m.Other);
        Assert.Equal(0, m.MalformedLines);
    }

    [Fact]
    public void Stopping_reloading_and_watchdog_trigger()
    {
        var m = NotifyMessage.Parse("STOPPING=1\nRELOADING=1\nWATCHDOG=trigger"u8);
        Assert.True(m.Stopping);
        Assert.True(m.Reloading);
        Assert.True(m.WatchdogTrigger);
        Assert.False(m.Watchdog);
    }

    [Theory]
    [InlineData("READY=yes")]
    [InlineData("MAINPID=1")]          // PID 1 is never a unit's main process
    [InlineData("MAINPID=-5")]
    [InlineData("garbage")]
    [InlineData("=1")]
    public void Malformed_lines_are_dropped_and_counted(string line)
    {
        var m = NotifyMessage.Parse(System.Text.Encoding.UTF8.GetBytes(line));
        Assert.False(m.Ready);
        Assert.Null(m.MainPid);
        Assert.Equal(1, m.MalformedLines);
    }

    [Fact]
    public void Arbitrary_bytes_never_throw() =>
        Gen.Byte.Array[0, 5000].Sample(bytes => { NotifyMessage.Parse(bytes); });
}
