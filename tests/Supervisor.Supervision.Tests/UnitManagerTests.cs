using Supervisor.Linux;
using Microsoft.Extensions.Time.Testing;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision.Tests;

/// <summary>A host that records what the manager asks for; tests answer with events like the kernel would.</summary>
internal sealed class RecordingHost(IUnitEventSink sink) : IUnitHost
{
    public IUnitEventSink Sink { get; } = sink;
    public List<string> Calls { get; } = [];
    private int _nextPid = 1000;
    public Dictionary<string, int> Pids { get; } = [];

    public void SpawnMain(UnitDefinition unit, Command? command = null)
    {
        Calls.Add($"spawn {unit.Name}");
        Pids[unit.Name] = ++_nextPid;
    }
    public void SpawnControl(UnitDefinition unit, Phase phase, Command command, int? mainPid = null)
    {
        Calls.Add($"control {unit.Name} {phase} {command.Program}");
        ControlMainPids.Add((phase, mainPid));
    }
    /// <summary>The $MAINPID each control command was given.</summary>
    public List<(Phase Phase, int? MainPid)> ControlMainPids { get; } = [];
    public void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid) => Calls.Add($"signal {unit.Name} {target} {signo}");
    public void WatchCgroupEmpty(UnitDefinition unit) => Calls.Add($"watch-empty {unit.Name}");
    public void FindMainPid(UnitDefinition unit) => Calls.Add($"find-pid {unit.Name}");
    public void ApplyResources(UnitDefinition unit) => Calls.Add($"apply {unit.Name} MemoryMax={unit.Resources.MemoryMax}");
    public void Log(string unit, string message) => Calls.Add($"log {unit}: {message}");
    public void Adopt(UnitDefinition unit, int mainPid) => Calls.Add($"adopt {unit.Name} {mainPid}");
    public void Release(UnitDefinition unit) => Calls.Add($"release {unit.Name}");
    public void CheckConditions(UnitDefinition unit) => Calls.Add($"check-conditions {unit.Name}");
    public void WatchBusName(UnitDefinition unit) => Calls.Add($"watch-bus-name {unit.Name} {unit.Service.BusName}");
    public void StoreFds(UnitDefinition unit, Supervisor.Supervision.Notify.FdStoreRequest request) { Calls.Add($"fdstore {unit.Name} {request.Fds.Count} {request.Name}"); request.Dispose(); }
    public void RunProbe(UnitDefinition unit, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid) => Calls.Add($"probe {unit.Name} {role} {epoch}");

    public IEnumerable<string> Spawns => Calls.Where(c => c.StartsWith("spawn ", StringComparison.Ordinal));
}

public class UnitManagerTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly UnitManager _manager;
    private RecordingHost _host = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-manager-test-" + Guid.NewGuid().ToString("N"));

    public UnitManagerTests()
    {
        Directory.CreateDirectory(_dir);
        _manager = new UnitManager(_clock, sink => _host = new RecordingHost(sink));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private UnitSet Units(params (string Name, string Text)[] units)
    {
        foreach (var f in Directory.GetFiles(_dir)) File.Delete(f);
        foreach (var (name, text) in units) File.WriteAllText(Path.Combine(_dir, name + ".toml"), text);
        return UnitLoader.LoadDirectory(_dir, new LoadOptions { RequireRootOwnership = false });
    }

    private static string Svc(string extra = "", string unit = "") => $"[Unit]\n{unit}\n[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n{extra}\n";

    private IReadOnlyList<PlanAction> Reconcile(UnitSet set)
    {
        var t = _manager.ReconcileAsync(set);
        _manager.RunPending();
        return t.Result;
    }

    /// <summary>Plays the kernel: every spawned main process starts.</summary>
    private void StartAllSpawned()
    {
        for (int i = 0; i < 10; i++)
        {
            var spawned = _host.Spawns.Select(s => s[6..]).Where(u => _manager.Units[u].Runtime.Sub == SubState.Start).Distinct().ToList();
            if (spawned.Count == 0) return;
            foreach (var u in spawned) _host.Sink.Post(u, new UnitEvent.MainStarted(_host.Pids[u]));
            _manager.RunPending();
        }
    }

    private SubState Sub(string unit) => _manager.Units[unit].Runtime.Sub;

    [Fact]
    public void Reconcile_starts_new_units_in_waves_by_After()
    {
        Reconcile(Units(("db", Svc()), ("cache", Svc()), ("web", Svc(unit: "Requires = [\"db\"]\nAfter = [\"db\", \"cache\"]"))));
        // db and cache start in parallel; web waits for both to be up.
        Assert.Equal(["spawn cache", "spawn db"], _host.Spawns.Order());
        _host.Sink.Post("db", new UnitEvent.MainStarted(1));
        _manager.RunPending();
        Assert.DoesNotContain("spawn web", _host.Spawns);
        _host.Sink.Post("cache", new UnitEvent.MainStarted(2));
        _manager.RunPending();
        Assert.Contains("spawn web", _host.Spawns);
        StartAllSpawned();
        Assert.All(["db", "cache", "web"], u => Assert.Equal(SubState.Running, Sub(u)));
    }

    [Fact]
    public async Task The_cgroup_is_kept_across_an_automatic_restart_and_released_when_the_unit_is_down_for_good()
    {
        Reconcile(Units(("web", Svc("Restart = \"always\"\nRestartSec = \"0\""))));
        StartAllSpawned();
        _host.Calls.Clear();
        // A crash: the unit goes through auto-restart to a new start; its cgroup must stay (no release).
        _host.Sink.Post("web", new UnitEvent.MainExited(ExitInfo.Exited(1), false, _host.Pids["web"]));
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.Start, Sub("web"));
        Assert.Equal(["spawn web"], _host.Spawns);
        Assert.DoesNotContain("release web", _host.Calls);
        StartAllSpawned();

        // A stop: dead, released once.
        var stop = _manager.StopAsync("web");
        _manager.RunPending();
        _host.Sink.Post("web", new UnitEvent.MainExited(ExitInfo.Killed(15), false, _host.Pids["web"]));
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.Dead, Sub("web"));
        Assert.True(stop.IsCompletedSuccessfully);
        Assert.Equal(JobResult.Done, (await stop).Result);
        Assert.Single(_host.Calls, c => c == "release web");
    }

    [Fact]
    public void A_unit_that_fails_without_restart_is_released()
    {
        Reconcile(Units(("job", Svc())));
        StartAllSpawned();
        _host.Sink.Post("job", new UnitEvent.MainExited(ExitInfo.Exited(3), false, _host.Pids["job"]));
        _host.Sink.Post("job", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.Failed, Sub("job"));
        Assert.Contains("release job", _host.Calls);
    }

    [Fact]
    public void A_failed_required_dependency_keeps_the_dependant_from_starting()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc(unit: "Requires = [\"db\"]\nAfter = [\"db\"]"))));
        _host.Sink.Post("db", new UnitEvent.SetupFailed("cannot apply AppArmorProfile"));
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.Failed, Sub("db"));
        Assert.DoesNotContain("spawn web", _host.Spawns);
        Assert.Contains("log web: not started: dependency 'db' failed", _host.Calls);
    }

    [Fact]
    public async Task Stop_propagates_to_dependants_and_they_stop_first()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc(unit: "Requires = [\"db\"]\nAfter = [\"db\"]"))));
        StartAllSpawned();
        _host.Calls.Clear();
        var stop = _manager.StopAsync("db");
        _manager.RunPending();
        // web is ordered after db, so web is signalled first; db waits.
        Assert.Contains("signal web ControlGroup 15", _host.Calls);
        Assert.DoesNotContain("signal db ControlGroup 15", _host.Calls);
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Contains("signal db ControlGroup 15", _host.Calls);
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stop).Result);
        Assert.Equal((SubState.Dead, SubState.Dead), (Sub("db"), Sub("web")));
    }

    [Fact]
    public async Task Requisite_never_starts_its_unit_and_fails_the_start_while_it_is_down()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc(unit: "Requisite = [\"db\"]\nAfter = [\"db\"]"))));
        StartAllSpawned();
        Assert.Equal((SubState.Running, SubState.Running), (Sub("db"), Sub("web")));

        // A requested stop of db takes web down, as Requires would.
        var stop = _manager.StopAsync("db");
        _manager.RunPending();
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stop).Result);
        Assert.Equal((SubState.Dead, SubState.Dead), (Sub("db"), Sub("web")));

        // Starting web does not start db: the start fails with result dependency.
        _host.Calls.Clear();
        var start = _manager.StartAsync("web");
        _manager.RunPending();
        var outcome = await start;
        Assert.Equal(JobResult.Dependency, outcome.Result);
        Assert.Contains("requisite 'db' is not active", outcome.Message);
        Assert.Empty(_host.Spawns);
        Assert.Equal(SubState.Dead, Sub("db"));

        // With db up, web starts.
        var db = _manager.StartAsync("db");
        _manager.RunPending();
        StartAllSpawned();
        Assert.Equal(JobResult.Done, (await db).Result);
        var again = _manager.StartAsync("web");
        _manager.RunPending();
        StartAllSpawned();
        Assert.Equal(JobResult.Done, (await again).Result);
        Assert.Equal(["spawn db", "spawn web"], _host.Spawns);
    }

    [Fact]
    public async Task A_StopWhenUnneeded_unit_stops_when_the_last_unit_that_needs_it_goes_down()
    {
        Reconcile(Units(("helper", Svc("", "StopWhenUnneeded = true")), ("a", Svc(unit: "Wants = [\"helper\"]")), ("b", Svc(unit: "Requires = [\"helper\"]")), ("alone", Svc("", "StopWhenUnneeded = true"))));
        StartAllSpawned();
        Assert.Equal((SubState.Running, SubState.Running, SubState.Running), (Sub("helper"), Sub("a"), Sub("b")));
        // Nothing needs "alone": the directory does not start it by itself.
        Assert.DoesNotContain("spawn alone", _host.Spawns);

        var stopA = _manager.StopAsync("a");
        _manager.RunPending();
        _host.Sink.Post("a", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stopA).Result);
        Assert.Equal(SubState.Running, Sub("helper")); // b still needs it

        var stopB = _manager.StopAsync("b");
        _manager.RunPending();
        _host.Sink.Post("b", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stopB).Result);
        Assert.Equal(SubState.StopSigterm, Sub("helper"));
        Assert.Contains("log helper: stopping: no active unit needs it any more (StopWhenUnneeded)", _host.Calls);

        // Started by hand with nothing needing it: up, then down again at once, as in systemd.
        _host.Sink.Post("helper", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        var start = _manager.StartAsync("alone");
        _manager.RunPending();
        StartAllSpawned();
        Assert.Equal(JobResult.Done, (await start).Result);
        Assert.Equal(SubState.StopSigterm, Sub("alone"));
    }

    [Fact]
    public void A_crash_stops_units_bound_to_it_but_not_those_that_only_require_it()
    {
        Reconcile(Units(("db", Svc("Restart = \"no\"")), ("sidecar", Svc(unit: "BindsTo = [\"db\"]")), ("web", Svc(unit: "Requires = [\"db\"]"))));
        StartAllSpawned();
        _host.Sink.Post("db", new UnitEvent.MainExited(ExitInfo.Killed(9), false));
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.Failed, Sub("db"));
        Assert.Equal(SubState.StopSigterm, Sub("sidecar"));
        Assert.Equal(SubState.Running, Sub("web"));
    }

    [Fact]
    public void Restart_timer_fires_on_the_clock_and_the_unit_is_spawned_again()
    {
        Reconcile(Units(("flaky", Svc("Restart = \"on-failure\"\nRestartSec = \"2s\""))));
        StartAllSpawned();
        _host.Sink.Post("flaky", new UnitEvent.MainExited(ExitInfo.Exited(3), false));
        _host.Sink.Post("flaky", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(SubState.AutoRestart, Sub("flaky"));
        _clock.Advance(TimeSpan.FromSeconds(1.9));
        _manager.RunPending();
        Assert.Single(_host.Spawns);
        _clock.Advance(TimeSpan.FromSeconds(0.2));
        _manager.RunPending();
        Assert.Equal(2, _host.Spawns.Count());
        Assert.Equal(1, _manager.Units["flaky"].Runtime.NRestarts);
    }

    [Fact]
    public void A_cancelled_timer_never_fires()
    {
        Reconcile(Units(("svc", Svc("TimeoutStartSec = \"5s\"\nType = \"notify\""))));
        _host.Sink.Post("svc", new UnitEvent.MainStarted(5));
        _host.Sink.Post("svc", new UnitEvent.Ready());
        _manager.RunPending();
        _clock.Advance(TimeSpan.FromSeconds(10));
        _manager.RunPending();
        Assert.Equal(SubState.Running, Sub("svc"));
    }

    [Fact]
    public void Editing_MemoryMax_applies_live_and_editing_ExecStart_restarts()
    {
        Reconcile(Units(("web", Svc() + "[Resources]\nMemoryMax = \"64M\"\n")));
        StartAllSpawned();
        _host.Calls.Clear();
        var plan = Reconcile(Units(("web", Svc() + "[Resources]\nMemoryMax = \"128M\"\n")));
        var live = Assert.Single(plan);
        Assert.Equal(PlanActionKind.ApplyLive, live.Kind);
        Assert.Equal("Resources.MemoryMax: \"64M\" → \"128M\"", Assert.Single(live.Changes).ToString());
        Assert.Contains("apply web MemoryMax=128M", _host.Calls);
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("signal", StringComparison.Ordinal));

        var restart = Assert.Single(Reconcile(Units(("web", "[Service]\nExecStart = [\"/bin/sleep\", \"2000\"]\n[Resources]\nMemoryMax = \"128M\"\n"))));
        Assert.Equal(PlanActionKind.Restart, restart.Kind);
        Assert.Contains("ExecStart changed", restart.Reason);
        Assert.Contains("signal web ControlGroup 15", _host.Calls);
    }

    [Fact]
    public void Removing_a_unit_stops_and_forgets_it()
    {
        Reconcile(Units(("a", Svc()), ("b", Svc())));
        StartAllSpawned();
        var plan = Reconcile(Units(("a", Svc())));
        Assert.Equal(new PlanAction("b", PlanActionKind.Stop, "unit file removed", []), Assert.Single(plan));
        _host.Sink.Post("b", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.False(_manager.Units.ContainsKey("b"));
        Assert.Equal(SubState.Running, Sub("a"));
    }

    [Fact]
    public async Task A_unit_file_that_becomes_invalid_leaves_the_running_instance_alone()
    {
        Reconcile(Units(("web", Svc())));
        StartAllSpawned();
        _host.Calls.Clear();
        var plan = Reconcile(Units(("web", Svc("Restart = \"sometimes\""))));
        Assert.Equal(PlanActionKind.KeepBadSetting, Assert.Single(plan).Kind);
        var status = _manager.Units["web"];
        Assert.Equal(SubState.Running, status.Runtime.Sub);
        Assert.Equal("bad-setting", status.LoadState);
        Assert.Contains(status.Diagnostics, d => d.Message.Contains("Restart"));
        Assert.DoesNotContain(_host.Calls, c => c.StartsWith("signal", StringComparison.Ordinal));
        // A restart request is refused while the file is bad.
        var restart = _manager.RestartAsync("web");
        _manager.RunPending();
        Assert.Equal(JobResult.Rejected, (await restart).Result);
    }

    [Fact]
    public void A_new_invalid_unit_is_shown_as_bad_setting_and_others_run()
    {
        Reconcile(Units(("good", Svc()), ("bad", "[Service]\nExecStart = 5\n")));
        Assert.Equal(SubState.BadSetting, Sub("bad"));
        Assert.Equal(["spawn good"], _host.Spawns);
    }

    [Fact]
    public async Task Requests_for_unknown_units_and_slices_are_rejected_with_a_reason()
    {
        Reconcile(Units(("web", Svc())));
        var unknown = _manager.StartAsync("wbe");
        _manager.RunPending();
        Assert.Equal(new JobOutcome(JobResult.Rejected, "unit 'wbe' is not loaded; did you mean 'web'?"), await unknown);
    }

    [Fact]
    public async Task StopAll_stops_everything_in_reverse_order()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc(unit: "After = [\"db\"]"))));
        StartAllSpawned();
        _host.Calls.Clear();
        var all = _manager.StopAllAsync();
        _manager.RunPending();
        Assert.Equal(["signal web ControlGroup 15"], _host.Calls.Where(c => c.StartsWith("signal", StringComparison.Ordinal)));
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await all.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).Result);
    }

    [Fact]
    public void A_unit_left_running_by_a_previous_supervisor_is_adopted_not_started_again()
    {
        var set = Units(("web", Svc()), ("new", Svc()));
        var t = _manager.ReconcileAsync(set, adoptions: new Dictionary<string, Adoption> { ["web"] = new(4242, 3, TimeSpan.FromMinutes(5)) });
        _manager.RunPending();
        Assert.Contains("adopt web 4242", _host.Calls);
        Assert.DoesNotContain("spawn web", _host.Spawns);
        Assert.Contains("spawn new", _host.Spawns);
        var web = _manager.Units["web"].Runtime;
        Assert.Equal((SubState.Running, 4242, 3), (web.Sub, web.MainPid!.Value, web.NRestarts));
        Assert.Equal(TimeSpan.FromMinutes(5), _clock.GetElapsedTime(web.ActiveSince!.Value));
        // Its exit is handled like any other (the pid matches), though its status cannot be known.
        _host.Sink.Post("web", new UnitEvent.MainExited(ExitInfo.Unknown, false, 4242));
        _manager.RunPending();
        Assert.Equal(SubState.FinalSigterm, Sub("web"));
    }

    [Fact]
    public void State_changes_are_published_for_listeners()
    {
        var seen = new List<string>();
        _manager.StateChanged += (status, before) => seen.Add($"{status.Name}: {StateNames.Name(before.Sub)} → {StateNames.Name(status.Runtime.Sub)}");
        Reconcile(Units(("web", Svc())));
        StartAllSpawned();
        Assert.Equal(["web: dead → start", "web: start → running"], seen);
    }

    // ── adopted units: an exit whose status is unknown ───────────────────────────────────────

    private void Adopt(string unit, int pid, params (string Name, string Text)[] units)
    {
        _manager.ReconcileAsync(Units(units), adoptions: new Dictionary<string, Adoption> { [unit] = new(pid, 0, TimeSpan.FromMinutes(1)) });
        _manager.RunPending();
        Assert.Equal(SubState.Running, Sub(unit));
    }

    [Fact]
    public async Task Stopping_an_adopted_unit_leaves_it_inactive_dead_not_failed()
    {
        Adopt("web", 4242, ("web", Svc("Restart = \"always\"")));
        var stop = _manager.StopAsync("web");
        _manager.RunPending();
        // The host can only say the adopted process is gone, not how it ended.
        _host.Sink.Post("web", new UnitEvent.MainExited(ExitInfo.Unknown, false, 4242));
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stop).Result);
        var web = _manager.Units["web"];
        Assert.Equal((ActiveState.Inactive, SubState.Dead, UnitResult.Success), (web.Active, web.Runtime.Sub, web.Runtime.Result));
        Assert.True(web.Runtime.LastExit!.Value.IsUnknown);
        // What status and the exit-code metric show: no made-up number.
        Assert.Null(web.Runtime.LastExit.Value.ShellStatus);
    }

    [Fact]
    public void An_adopted_process_that_dies_unasked_restarts_with_on_failure_and_stays_down_with_on_abnormal()
    {
        var units = new[] { ("fails", Svc("Restart = \"on-failure\"\nRestartSec = \"5s\"")), ("abnormal", Svc("Restart = \"on-abnormal\"")) };
        var t = _manager.ReconcileAsync(Units(units), adoptions: new Dictionary<string, Adoption>
        {
            ["fails"] = new(4242, 0, TimeSpan.FromMinutes(1)),
            ["abnormal"] = new(4343, 0, TimeSpan.FromMinutes(1)),
        });
        _manager.RunPending();
        _host.Sink.Post("fails", new UnitEvent.MainExited(ExitInfo.Unknown, false, 4242));
        _host.Sink.Post("fails", new UnitEvent.CgroupEmpty());
        _host.Sink.Post("abnormal", new UnitEvent.MainExited(ExitInfo.Unknown, false, 4343));
        _host.Sink.Post("abnormal", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        // The row of an unclean exit code: a failure, but no crash that on-abnormal restarts for.
        Assert.Equal(SubState.AutoRestart, Sub("fails"));
        Assert.Equal((SubState.Failed, UnitResult.ExitCode), (Sub("abnormal"), _manager.Units["abnormal"].Runtime.Result));
        Assert.Contains("log abnormal: failed with result 'exit-code': main process exited, status unknown (not a child of this supervisor)", _host.Calls);
    }

    // ── stale state after a reconcile ────────────────────────────────────────────────────────

    [Fact]
    public void A_reverted_broken_edit_clears_bad_setting_at_the_next_reconcile()
    {
        Reconcile(Units(("web", Svc())));
        StartAllSpawned();
        Reconcile(Units(("web", Svc("Restart = \"sometimes\""))));
        Assert.Equal("bad-setting", _manager.Units["web"].LoadState);
        Reconcile(Units(("web", Svc())));
        var web = _manager.Units["web"];
        Assert.Equal(("loaded", false, SubState.Running), (web.LoadState, web.BadSetting, web.Runtime.Sub));
        Assert.Empty(web.Diagnostics);
    }

    [Fact]
    public async Task A_file_invalid_from_the_start_runs_once_it_is_fixed()
    {
        Reconcile(Units(("web", "[Service]\nExecStart = 5\n")));
        Assert.Equal(SubState.BadSetting, Sub("web"));
        var plan = Reconcile(Units(("web", Svc())));
        Assert.Equal(PlanActionKind.Start, Assert.Single(plan).Kind);
        Assert.Equal(["spawn web"], _host.Spawns);
        StartAllSpawned();
        Assert.Equal(("loaded", SubState.Running), (_manager.Units["web"].LoadState, Sub("web")));
        var stop = _manager.StopAsync("web");
        _manager.RunPending();
        Assert.Contains("signal web ControlGroup 15", _host.Calls);
        _host.Sink.Post("web", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stop).Result);
    }

    [Fact]
    public async Task A_unit_waiting_to_run_whose_broken_edit_is_reverted_is_started_by_that_reconcile()
    {
        var web = Svc(unit: "Requires = [\"db\"]\nAfter = [\"db\"]");
        Reconcile(Units(("db", Svc()), ("web", web)));
        _host.Sink.Post("db", new UnitEvent.SetupFailed("cannot apply AppArmorProfile"));
        _host.Sink.Post("db", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.True(_manager.Units["web"].DeclaredButNeverRan);
        // web's file breaks while it waits; db recovers meanwhile.
        Reconcile(Units(("db", Svc()), ("web", web + "Restart = \"sometimes\"\n")));
        Assert.False(_manager.Units["web"].DeclaredButNeverRan);
        var reset = _manager.ResetFailedAsync("db");
        var start = _manager.StartAsync("db");
        _manager.RunPending();
        StartAllSpawned();
        Assert.Equal(JobResult.Done, (await reset).Result);
        Assert.Equal(JobResult.Done, (await start).Result);
        // The revert: web should run, and this very reconcile starts it.
        var plan = Reconcile(Units(("db", Svc()), ("web", web)));
        Assert.Equal(new PlanAction("web", PlanActionKind.Repair, "declared running but inactive", []), Assert.Single(plan));
        Assert.Contains("spawn web", _host.Spawns);
    }

    [Fact]
    public void A_deleted_invalid_file_leaves_no_ghost()
    {
        Reconcile(Units(("good", Svc()), ("bad", "[Service]\nExecStart = 5\n")));
        Assert.True(_manager.Units.ContainsKey("bad"));
        var changes = 0;
        _manager.UnitSetChanged += () => changes++;
        Reconcile(Units(("good", Svc())));
        Assert.False(_manager.Units.ContainsKey("bad"));
        Assert.Equal(1, changes);
        Assert.Empty(_manager.Preview(Units(("good", Svc()))));
    }

    [Fact]
    public async Task A_stopped_unit_whose_file_is_removed_is_forgotten_by_that_reconcile()
    {
        Reconcile(Units(("a", Svc()), ("b", Svc())));
        StartAllSpawned();
        var stop = _manager.StopAsync("b");
        _manager.RunPending();
        _host.Sink.Post("b", new UnitEvent.CgroupEmpty());
        _manager.RunPending();
        Assert.Equal(JobResult.Done, (await stop).Result);

        var remaining = Units(("a", Svc()));
        Assert.Equal(new PlanAction("b", PlanActionKind.Stop, "unit file removed", []), Assert.Single(Reconcile(remaining)));
        Assert.False(_manager.Units.ContainsKey("b"));
        // Nothing is left to do: `plan` and the next reconcile agree.
        Assert.Empty(_manager.Preview(remaining));
        Assert.Empty(Reconcile(remaining));
    }

    [Fact]
    public void Requires_added_by_a_live_edit_propagates_a_stop_at_once()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc())));
        StartAllSpawned();
        var plan = Reconcile(Units(("db", Svc()), ("web", Svc(unit: "Requires = [\"db\"]"))));
        Assert.Equal(PlanActionKind.Update, Assert.Single(plan).Kind);
        _host.Calls.Clear();
        _manager.StopAsync("db");
        _manager.RunPending();
        Assert.Contains("signal web ControlGroup 15", _host.Calls);
    }

    [Fact]
    public void After_added_by_a_live_edit_orders_the_shutdown_at_once()
    {
        Reconcile(Units(("db", Svc()), ("web", Svc())));
        StartAllSpawned();
        Reconcile(Units(("db", Svc()), ("web", Svc(unit: "After = [\"db\"]"))));
        _host.Calls.Clear();
        _manager.StopAllAsync();
        _manager.RunPending();
        // web was started after db, so it stops first; db waits for it.
        Assert.Equal(["signal web ControlGroup 15"], _host.Calls.Where(c => c.StartsWith("signal", StringComparison.Ordinal)));
    }

    [Fact]
    public void Control_commands_get_the_main_pid_the_machine_knows_for_MAINPID()
    {
        Reconcile(Units(("r", Svc("ExecReload = [[\"/bin/kill\", \"-HUP\", \"$MAINPID\"]]\nExecStartPre = [[\"/bin/true\"]]"))));
        _host.Sink.Post("r", new UnitEvent.ControlExited(ExitInfo.Exited(0)));
        _manager.RunPending();
        StartAllSpawned();
        Assert.Equal(SubState.Running, Sub("r"));
        _host.Sink.Post("r", new UnitEvent.Reload());
        _manager.RunPending();
        Assert.Equal([(Phase.StartPre, (int?)null), (Phase.Reload, _host.Pids["r"])], _host.ControlMainPids);
    }
}
