using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Units.Tests;

/// <summary>TimeoutSec, TimeoutAbortSec, the kill signals, SendSIGHUP, NotifyAccess and exit status names, as systemd 252 reads them.</summary>
public class LifecycleKeyTests
{
    private static ServiceSection Service(string keys) =>
        Parse.Valid($"[Service]\nExecStart = [\"/bin/true\"]\n{keys}\n").Service;

    [Fact]
    public void TimeoutSec_sets_both_timeouts_and_0_means_no_limit()
    {
        var s = Service("TimeoutSec = \"7s\"");
        Assert.Equal((Duration.FromSeconds(7), Duration.FromSeconds(7)), (s.TimeoutStartSec, s.TimeoutStopSec));
        var zero = Service("TimeoutSec = 0");
        Assert.True(zero.TimeoutStartSec.IsInfinity && zero.TimeoutStopSec.IsInfinity);
    }

    [Fact]
    public void TimeoutStartSec_or_TimeoutStopSec_written_beside_TimeoutSec_wins()
    {
        var s = Service("TimeoutStopSec = \"3s\"\nTimeoutSec = \"7s\"");
        Assert.Equal((Duration.FromSeconds(7), Duration.FromSeconds(3)), (s.TimeoutStartSec, s.TimeoutStopSec));
    }

    [Fact]
    public void Show_prints_the_two_timeouts_TimeoutSec_set_and_that_parses_back_the_same()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nTimeoutSec = \"7s\"\n");
        var toml = UnitFormatter.ToToml(unit);
        Assert.Contains("TimeoutStopSec = \"7s\"", toml);
        Assert.Equal(unit.Service, Parse.Valid(toml).Service);
        // Where the two differ there is no one TimeoutSec to show.
        var apart = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nTimeoutSec = \"7s\"\nTimeoutStopSec = \"2s\"\n");
        Assert.DoesNotContain("TimeoutSec =", UnitFormatter.ToToml(apart));
    }

    [Fact]
    public void The_kill_keys_take_signal_names_and_have_systemds_defaults()
    {
        var d = Service("");
        Assert.Equal((6, (int?)null, 9, false, (Duration?)null), (d.WatchdogSignal, d.RestartKillSignal, d.FinalKillSignal, d.SendSIGHUP, d.TimeoutAbortSec));
        var s = Service("WatchdogSignal = \"SIGUSR2\"\nRestartKillSignal = \"SIGINT\"\nFinalKillSignal = \"SIGQUIT\"\nSendSIGHUP = true\nTimeoutAbortSec = \"4s\"");
        Assert.Equal((12, (int?)2, 3, true, (Duration?)Duration.FromSeconds(4)), (s.WatchdogSignal, s.RestartKillSignal, s.FinalKillSignal, s.SendSIGHUP, s.TimeoutAbortSec));
        Assert.Equal(Duration.FromSeconds(90), d.EffectiveTimeoutAbortSec);
        Assert.Equal("svc.toml:3:19: svc: [Service] FinalKillSignal: expected a signal name like \"SIGTERM\", got \"SIGKIL\"; did you mean 'SIGKILL'?",
            Parse.SingleError("[Service]\nExecStart = [\"/bin/true\"]\nFinalKillSignal = \"SIGKIL\"\n").ToString());
    }

    [Theory]
    [InlineData("", "Type = \"simple\"", NotifyAccess.None)]
    [InlineData("", "Type = \"notify\"", NotifyAccess.Main)]
    [InlineData("", "WatchdogSec = \"5s\"", NotifyAccess.Main)]
    [InlineData("NotifyAccess = \"none\"", "Type = \"notify\"", NotifyAccess.Main)]
    [InlineData("NotifyAccess = \"all\"", "Type = \"notify\"", NotifyAccess.All)]
    [InlineData("NotifyAccess = \"exec\"", "", NotifyAccess.Exec)]
    public void NotifyAccess_in_force_follows_systemd_252(string access, string other, NotifyAccess expected) =>
        Assert.Equal(expected, Service(access + "\n" + other).EffectiveNotifyAccess);

    [Fact]
    public void Exit_status_names_are_read_as_systemd_252_numbers_them()
    {
        var s = Service("SuccessExitStatus = [\"DATAERR\", 75, \"SIGUSR1\", \"APPARMOR\", \"EXCEPTION\"]\nRestartPreventExitStatus = [\"TEMPFAIL\"]");
        Assert.Equal([65, 75, 231, 255], s.SuccessExitStatus.Codes);
        Assert.Equal([10], s.SuccessExitStatus.Signals);
        Assert.Equal([75], s.RestartPreventExitStatus.Codes);
    }

    [Fact]
    public void Show_writes_named_exit_codes_by_name()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nSuccessExitStatus = [65, 3, 42, \"SIGUSR1\"]\n");
        Assert.Contains("SuccessExitStatus = [\"DATAERR\", \"NOTIMPLEMENTED\", 42, \"SIGUSR1\"]", UnitFormatter.ToToml(unit));
    }

    [Fact]
    public void An_unknown_exit_status_name_is_refused_with_the_nearest_name() =>
        Assert.Equal("svc.toml:3:21: svc: [Service] SuccessExitStatus: expected an exit code, an exit status name like \"DATAERR\" or a signal name, got \"DATAER\"; did you mean 'DATAERR'?",
            Parse.SingleError("[Service]\nExecStart = [\"/bin/true\"]\nSuccessExitStatus = [\"DATAER\"]\n").ToString());
}
