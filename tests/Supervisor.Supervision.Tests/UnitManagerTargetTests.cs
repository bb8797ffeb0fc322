using Microsoft.Extensions.Time.Testing;
using Supervisor.Units;

namespace Supervisor.Supervision.Tests;

/// <summary>Targets (systemd.target(5)) and template instances in the manager: no process, ordering and grouping only.</summary>
public class UnitManagerTargetTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly UnitManager _manager;
    private RecordingHost _host = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-target-test-" + Guid.NewGuid().ToString("N"));

    public UnitManagerTargetTests()
    {
        Directory.CreateDirectory(_dir);
        _manager = new UnitManager(_clock, sink => _host = new RecordingHost(sink));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private UnitSet Load(params (string File, string Text)[] files)
    {
        foreach (var (file, text) in files) File.WriteAllText(Path.Combine(_dir, file), text);
        var set = UnitLoader.LoadDirectory(_dir, new LoadOptions { RequireRootOwnership = false });
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return set;
    }

    private static string Svc(string unit = "") => $"[Unit]\n{unit}\n[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n";

    private void Reconcile(UnitSet set, bool startNew)
    {
        _manager.ReconcileAsync(set, startNew);
        _manager.RunPending();
    }

    private void StartSpawned()
    {
        for (int i = 0; i < 10; i++)
        {
            var spawned = _host.Spawns.Select(s => s[6..]).Where(u => _manager.Units[u].Runtime.Sub == SubState.Start).Distinct().ToList();
            if (spawned.Count == 0) return;
            foreach (var u in spawned) _host.Sink.Post(u, new UnitEvent.MainStarted(_host.Pids[u]));
            _manager.RunPending();
        }
    }

    [Fact]
    public async Task Starting_a_target_pulls_in_its_wants_and_a_service_after_it_starts_only_once_they_run()
    {
        Reconcile(Load(
            ("app.target.toml", "[Unit]\nDescription = \"the app\"\nWants = [\"db\", \"web\"]\n"),
            ("db.toml", Svc()),
            ("web.toml", Svc("After = [\"app.target\"]"))), startNew: false);
        var job = _manager.StartAsync("app.target");
        _manager.RunPending();

        // db is wanted and the target is ordered after it (implicitly); web is wanted too but is
        // ordered after the target, so it must wait until db runs and the target is reached.
        Assert.Equal(["spawn db"], _host.Spawns);
        Assert.Equal(ActiveState.Inactive, _manager.Units["app.target"].Active);
        StartSpawned();
        Assert.Equal(["spawn db", "spawn web"], _host.Spawns);
        Assert.Equal(SubState.Active, _manager.Units["app.target"].Runtime.Sub);
        Assert.Equal(JobResult.Done, (await job).Result);
    }

    [Fact]
    public void A_target_runs_nothing_and_stopping_it_stops_what_is_part_of_it()
    {
        Reconcile(Load(
            ("grp.target.toml", "[Unit]\nWants = [\"a\"]\n"),
            ("a.toml", Svc("PartOf = [\"grp.target\"]")),
            ("b.toml", Svc())), startNew: true);
        StartSpawned();
        Assert.Equal(ActiveState.Active, _manager.Units["grp.target"].Active);
        Assert.DoesNotContain(_host.Spawns, s => s.Contains("grp", StringComparison.Ordinal));

        _manager.StopAsync("grp.target");
        _manager.RunPending();
        Assert.Equal(ActiveState.Inactive, _manager.Units["grp.target"].Active);
        Assert.Contains("signal a ControlGroup 15", _host.Calls);
        Assert.DoesNotContain("signal b ControlGroup 15", _host.Calls);
    }

    [Fact]
    public void After_and_Wants_on_well_known_targets_are_satisfied_without_a_file()
    {
        Reconcile(Load(("redis.toml", Svc("After = [\"network.target\", \"network-online.target\"]\nWants = [\"network-online.target\"]\nRequires = [\"sysinit.target\"]"))), startNew: true);
        Assert.Equal(["spawn redis"], _host.Spawns);
    }

    [Fact]
    public async Task A_target_cannot_be_reloaded()
    {
        Reconcile(Load(("t.target.toml", "[Unit]\n")), startNew: true);
        var job = _manager.ReloadAsync("t.target");
        _manager.RunPending();
        Assert.Equal(JobResult.Rejected, (await job).Result);
    }

    [Fact]
    public void A_template_instance_wanted_by_a_unit_is_a_unit_of_its_own_with_its_instance_in_argv()
    {
        Reconcile(Load(
            ("getty@.toml", "[Service]\nExecStart = [\"/bin/echo\", \"%i\", \"%n\"]\n"),
            ("login.toml", Svc("Wants = [\"getty@tty3.service\"]"))), startNew: true);
        Assert.Contains("spawn getty@tty3", _host.Spawns);
        Assert.Equal(["/bin/echo", "tty3", "getty@tty3.service"], _manager.Units["getty@tty3"].Definition!.Service.ExecStart!.Argv);
        Assert.False(_manager.Units.ContainsKey("getty@"));
    }
}
