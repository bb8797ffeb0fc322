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

public class RestartTableTests
{
    private static ServiceSection With(RestartPolicy p) => new() { Restart = p };

    // systemd.service(5), "Table 2. Exit causes and the effect of the Restart= settings".
    [Theory]
    //                 policy                     clean  code   signal timeout watchdog
    [InlineData(RestartPolicy.No,          false, false, false, false, false)]
    [InlineData(RestartPolicy.Always,      true,  true,  true,  true,  true)]
    [InlineData(RestartPolicy.OnSuccess,   true,  false, false, false, false)]
    [InlineData(RestartPolicy.OnFailure,   false, true,  true,  true,  true)]
    [InlineData(RestartPolicy.OnAbnormal,  false, false, true,  true,  true)]
    [InlineData(RestartPolicy.OnAbort,     false, false, true,  false, false)]
    [InlineData(RestartPolicy.OnWatchdog,  false, false, false, false, true)]
    public void Matches_systemds_table(RestartPolicy policy, bool clean, bool code, bool signal, bool timeout, bool watchdog)
    {
        var s = With(policy);
        Assert.Equal(clean, RestartPolicyTable.ShouldRestart(s, ExitCause.Clean, ExitInfo.Exited(0)));
        Assert.Equal(code, RestartPolicyTable.ShouldRestart(s, ExitCause.UncleanCode, ExitInfo.Exited(1)));
        Assert.Equal(signal, RestartPolicyTable.ShouldRestart(s, ExitCause.UncleanSignal, ExitInfo.Killed(9)));
        Assert.Equal(timeout, RestartPolicyTable.ShouldRestart(s, ExitCause.Timeout, null));
        Assert.Equal(watchdog, RestartPolicyTable.ShouldRestart(s, ExitCause.Watchdog, ExitInfo.Killed(6)));
    }

    [Fact]
    public void RestartPreventExitStatus_wins_over_the_table()
    {
        var s = With(RestartPolicy.Always) with { RestartPreventExitStatus = new ExitStatusSet([64], [10]) };
        Assert.False(RestartPolicyTable.ShouldRestart(s, ExitCause.UncleanCode, ExitInfo.Exited(64)));
        Assert.False(RestartPolicyTable.ShouldRestart(s, ExitCause.UncleanSignal, ExitInfo.Killed(10)));
        Assert.True(RestartPolicyTable.ShouldRestart(s, ExitCause.UncleanCode, ExitInfo.Exited(65)));
    }

    [Fact]
    public void RestartForceExitStatus_wins_over_everything()
    {
        var s = With(RestartPolicy.No) with
        {
            RestartForceExitStatus = new ExitStatusSet([0], []),
            RestartPreventExitStatus = new ExitStatusSet([0], []),
        };
        Assert.True(RestartPolicyTable.ShouldRestart(s, ExitCause.Clean, ExitInfo.Exited(0)));
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
