using Microsoft.Extensions.Time.Testing;
using Supervisor.Linux;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision.Tests;

/// <summary>Condition*/Assert*, ExecCondition, OnFailure/OnSuccess and Type=idle/dbus through the manager, with a host that records.</summary>
public sealed class ConditionManagerTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly UnitManager _manager;
    private RecordingHost _host = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-condition-test-" + Guid.NewGuid().ToString("N"));

    public ConditionManagerTests()
    {
        Directory.CreateDirectory(_dir);
        _manager = new UnitManager(_clock, sink => _host = new RecordingHost(sink));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private void Load(params (string Name, string Text)[] units)
    {
        foreach (var (name, text) in units) File.WriteAllText(Path.Combine(_dir, name + ".toml"), text);
        var set = UnitLoader.LoadDirectory(_dir, new LoadOptions { RequireRootOwnership = false });
        Assert.DoesNotContain(set.Diagnostics, d => d.Severity == Severity.Error);
        var t = _manager.ReconcileAsync(set, startNew: false);
        _manager.RunPending();
        _ = t.Result;
    }

    private static string Svc(string service = "", string unit = "", string exec = "[\"/bin/sleep\", \"1000\"]") =>
        $"[Unit]\n{unit}\n[Service]\nExecStart = {exec}\n{service}\n";

    private Task<JobOutcome> Start(string unit)
    {
        var t = _manager.StartAsync(unit);
        _manager.RunPending();
        return t;
    }

    private void Post(string unit, UnitEvent e)
    {
        _host.Sink.Post(unit, e);
        _manager.RunPending();
    }

    private UnitRuntime R(string unit) => _manager.Units[unit].Runtime;

    private static UnitCondition C(string text, string kind = "PathExists", bool assert = false) => UnitCondition.Parse(kind, assert, text);

    private static UnitEvent.ConditionsChecked Checked(bool conditionsMet, bool assertsMet = true) => new(
        ConditionRule.Combine(false, [(C("/x"), conditionsMet)]),
        ConditionRule.Combine(true, [(C("/y", assert: true), assertsMet)]));

    [Fact]
    public async Task A_condition_not_met_skips_the_start_the_job_succeeds_and_nothing_is_spawned()
    {
        Load(("u", Svc(unit: "ConditionPathExists = [\"/x\"]")));
        var job = Start("u");
        Assert.Contains("check-conditions u", _host.Calls);
        Assert.Equal(SubState.Condition, R("u").Sub);
        Post("u", Checked(conditionsMet: false));
        var outcome = await job;
        Assert.Equal(JobResult.Done, outcome.Result);
        Assert.Equal(SubState.Dead, R("u").Sub);
        Assert.Equal("ConditionPathExists=/x was not met", R("u").ConditionResult!.Describe());
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("spawn ", StringComparison.Ordinal));
        // The reconciler does not take a skipped unit for one that never got going.
        Assert.False(_manager.Units["u"].DeclaredButNeverRan);
    }

    [Fact]
    public async Task An_assert_not_met_fails_the_job_with_the_assertion_and_leaves_the_unit_inactive()
    {
        Load(("u", Svc(unit: "AssertPathExists = [\"/y\"]")));
        var job = Start("u");
        Post("u", Checked(conditionsMet: true, assertsMet: false));
        var outcome = await job;
        Assert.Equal(JobResult.Failed, outcome.Result);
        Assert.Equal("Assertion failed on job for 'u': AssertPathExists=/y was not met", outcome.Message);
        Assert.Equal((ActiveState.Inactive, UnitResult.Success), (R("u").Active, R("u").Result));
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("spawn ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_mount_missing_for_RequiresMountsFor_fails_the_job_as_a_dependency_and_leaves_the_unit_inactive()
    {
        Load(("u", Svc(unit: "RequiresMountsFor = [\"/srv/db\"]")));
        var job = Start("u");
        const string why = "RequiresMountsFor=/srv/db: /srv is declared in /etc/fstab but not mounted (Supervisor does not mount file systems)";
        Post("u", new UnitEvent.ConditionsChecked(ConditionOutcome.None(false), new ConditionOutcome(true, false, [], why, Dependency: true)));
        var outcome = await job;
        Assert.Equal(JobResult.Failed, outcome.Result);
        Assert.Equal($"Dependency failed on job for 'u': {why}", outcome.Message);
        Assert.Equal(ActiveState.Inactive, R("u").Active);
        Assert.Contains(_host.Calls, c => c.Contains("start dependency failed: " + why, StringComparison.Ordinal));
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("spawn ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reload_propagates_to_PropagatesReloadTo_and_ReloadPropagatedFrom_units_that_run_and_skips_the_rest()
    {
        const string reload = "ExecReload = [[\"/bin/reload\"]]";
        Load(("a", Svc(reload, unit: "PropagatesReloadTo = [\"b\", \"idle\"]")), ("b", Svc(reload)), ("c", Svc(reload, unit: "ReloadPropagatedFrom = [\"b\"]")),
            ("other", Svc(reload)), ("idle", Svc(reload)));
        foreach (var u in (string[])["a", "b", "c", "other"])
        {
            var started = Start(u);
            Post(u, new UnitEvent.MainStarted(_host.Pids[u]));
            Assert.Equal(JobResult.Done, (await started).Result);
        }
        var job = _manager.ReloadAsync("a");
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await job).Result);
        // a's own reload, b's (PropagatesReloadTo), and c's through b (ReloadPropagatedFrom, transitively);
        // not 'other' (unrelated), not 'idle' (not running: a try-reload leaves it alone).
        Assert.Equal(["control a Reload /bin/reload", "control b Reload /bin/reload", "control c Reload /bin/reload"],
            _host.Calls.Where(c => c.StartsWith("control ", StringComparison.Ordinal) && c.Contains(" Reload ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains(_host.Calls, c => c.Contains("reloading: propagated from 'a'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Conditions_met_go_on_to_ExecCondition_then_ExecStartPre_then_the_main_process()
    {
        Load(("u", Svc("ExecCondition = [[\"/bin/check\"]]\nExecStartPre = [[\"/bin/pre\"]]", unit: "ConditionPathExists = [\"/x\"]")));
        var job = Start("u");
        Post("u", Checked(conditionsMet: true));
        Assert.Contains("control u Condition /bin/check", _host.Calls);
        Post("u", new UnitEvent.ControlExited(ExitInfo.Exited(0)));
        Assert.Contains("control u StartPre /bin/pre", _host.Calls);
        Post("u", new UnitEvent.ControlExited(ExitInfo.Exited(0)));
        Assert.Contains("spawn u", _host.Calls);
        Post("u", new UnitEvent.MainStarted(_host.Pids["u"]));
        Assert.Equal(JobResult.Done, (await job).Result);
        Assert.Equal(SubState.Running, R("u").Sub);
    }

    [Fact]
    public async Task ExecCondition_exit_1_skips_without_failure_and_without_a_restart()
    {
        Load(("u", Svc("ExecCondition = [[\"/bin/check\"]]\nRestart = \"always\"")));
        var job = Start("u");
        Post("u", new UnitEvent.ControlExited(ExitInfo.Exited(1)));
        Post("u", new UnitEvent.CgroupEmpty());
        Assert.Equal(JobResult.Done, (await job).Result);
        Assert.Equal((SubState.Dead, UnitResult.ExecCondition), (R("u").Sub, R("u").Result));
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("spawn ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExecCondition_exit_255_or_a_signal_fails_the_start()
    {
        Load(("a", Svc("ExecCondition = [[\"/bin/check\"]]")), ("b", Svc("ExecCondition = [[\"/bin/check\"]]")));
        var a = Start("a");
        Post("a", new UnitEvent.ControlExited(ExitInfo.Exited(255)));
        Post("a", new UnitEvent.CgroupEmpty());
        var b = Start("b");
        Post("b", new UnitEvent.ControlExited(ExitInfo.Killed(9)));
        Post("b", new UnitEvent.CgroupEmpty());
        Assert.Equal((JobResult.Failed, SubState.Failed, UnitResult.ExitCode), ((await a).Result, R("a").Sub, R("a").Result));
        Assert.Equal((JobResult.Failed, SubState.Failed, UnitResult.Signal), ((await b).Result, R("b").Sub, R("b").Result));
    }

    [Fact]
    public void OnFailure_starts_its_units_when_the_unit_fails_but_not_on_an_automatic_restart()
    {
        Load(("u", Svc("Restart = \"on-failure\"\nRestartSec = \"1s\"\nStartLimitBurst = 2", unit: "OnFailure = [\"rescue\"]")), ("rescue", Svc()));
        _ = Start("u");
        Post("u", new UnitEvent.MainStarted(_host.Pids["u"]));
        Post("u", new UnitEvent.MainExited(ExitInfo.Exited(1), false, _host.Pids["u"]));
        Post("u", new UnitEvent.CgroupEmpty());
        Assert.Equal(SubState.AutoRestart, R("u").Sub);
        Assert.DoesNotContain("spawn rescue", _host.Calls);
        _clock.Advance(TimeSpan.FromSeconds(1));
        _manager.RunPending();
        Post("u", new UnitEvent.MainStarted(_host.Pids["u"]));
        Post("u", new UnitEvent.MainExited(ExitInfo.Exited(1), false, _host.Pids["u"]));
        Post("u", new UnitEvent.CgroupEmpty());
        _clock.Advance(TimeSpan.FromSeconds(1));
        _manager.RunPending();
        // The third start hits StartLimitBurst: failed for good, and rescue is started.
        Assert.Equal(SubState.Failed, R("u").Sub);
        Assert.Contains("spawn rescue", _host.Calls);
    }

    [Fact]
    public void OnSuccess_starts_its_units_after_a_oneshot_succeeded_and_not_when_a_condition_skipped_it()
    {
        Load(("job", Svc("Type = \"oneshot\"", unit: "OnSuccess = [\"next\"]")), ("skipped", Svc("Type = \"oneshot\"", unit: "OnSuccess = [\"next\"]\nConditionPathExists = [\"/x\"]")),
            ("next", Svc()));
        _ = Start("skipped");
        Post("skipped", Checked(conditionsMet: false));
        Assert.DoesNotContain("spawn next", _host.Calls);
        _ = Start("job");
        Post("job", new UnitEvent.MainStarted(_host.Pids["job"]));
        Assert.DoesNotContain("spawn next", _host.Calls);
        Post("job", new UnitEvent.MainExited(ExitInfo.Exited(0), false, _host.Pids["job"]));
        Assert.Equal(SubState.Dead, R("job").Sub);
        Assert.Contains("spawn next", _host.Calls);
    }

    [Fact]
    public async Task A_oneshot_without_RemainAfterExit_that_ran_cleanly_answers_its_start_job_done_and_a_failing_one_failed()
    {
        Load(("ok", Svc("Type = \"oneshot\"")), ("bad", Svc("Type = \"oneshot\"")));
        var ok = Start("ok");
        Post("ok", new UnitEvent.MainStarted(_host.Pids["ok"]));
        Post("ok", new UnitEvent.MainExited(ExitInfo.Exited(0), false, _host.Pids["ok"]));
        Assert.Equal((JobResult.Done, SubState.Dead), ((await ok).Result, R("ok").Sub));
        var bad = Start("bad");
        Post("bad", new UnitEvent.MainStarted(_host.Pids["bad"]));
        Post("bad", new UnitEvent.MainExited(ExitInfo.Exited(3), false, _host.Pids["bad"]));
        Post("bad", new UnitEvent.CgroupEmpty());
        Assert.Equal(JobResult.Failed, (await bad).Result);
    }

    [Fact]
    public void Type_idle_waits_while_another_unit_starts_and_at_most_5s()
    {
        Load(("slow", Svc("Type = \"notify\"")), ("idle", Svc("Type = \"idle\"")), ("idle2", Svc("Type = \"idle\"")));
        _ = Start("slow");
        _ = Start("idle");
        Assert.Contains("spawn slow", _host.Calls);
        Assert.DoesNotContain("spawn idle", _host.Calls);
        // slow is up: the idle unit goes.
        Post("slow", new UnitEvent.MainStarted(_host.Pids["slow"]));
        Post("slow", new UnitEvent.Ready());
        Assert.Contains("spawn idle", _host.Calls);
        Post("idle", new UnitEvent.MainStarted(_host.Pids["idle"]));
        Assert.Equal(SubState.Running, R("idle").Sub);

        // Another unit that never gets ready holds an idle unit back for 5s, no longer.
        _ = _manager.StopAsync("slow");
        _manager.RunPending();
        Post("slow", new UnitEvent.CgroupEmpty());
        _ = Start("slow");
        _ = Start("idle2");
        Assert.DoesNotContain("spawn idle2", _host.Calls);
        _clock.Advance(TimeSpan.FromSeconds(4));
        _manager.RunPending();
        Assert.DoesNotContain("spawn idle2", _host.Calls);
        _clock.Advance(TimeSpan.FromSeconds(1));
        _manager.RunPending();
        Assert.Contains("spawn idle2", _host.Calls);
    }

    [Fact]
    public async Task Type_dbus_is_started_when_the_host_reports_its_name_and_fails_when_there_is_no_bus()
    {
        Load(("a", Svc("Type = \"dbus\"\nBusName = \"org.example.A\"")), ("b", Svc("Type = \"dbus\"\nBusName = \"org.example.B\"")));
        var a = Start("a");
        Post("a", new UnitEvent.MainStarted(_host.Pids["a"]));
        Assert.Contains("watch-bus-name a org.example.A", _host.Calls);
        Assert.Equal(SubState.Start, R("a").Sub);
        Post("a", new UnitEvent.Ready());
        Assert.Equal((JobResult.Done, SubState.Running), ((await a).Result, R("a").Sub));

        var b = Start("b");
        Post("b", new UnitEvent.MainStarted(_host.Pids["b"]));
        Post("b", new UnitEvent.SetupFailed("Type=dbus: no system bus is reachable"));
        Post("b", new UnitEvent.MainExited(ExitInfo.Killed(15), false, _host.Pids["b"]));
        Post("b", new UnitEvent.CgroupEmpty());
        var outcome = await b;
        Assert.Equal(JobResult.Failed, outcome.Result);
        Assert.Contains("no system bus is reachable", outcome.Message);
    }
}
