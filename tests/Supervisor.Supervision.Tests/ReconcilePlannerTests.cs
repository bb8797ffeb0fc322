using Supervisor.Linux;
using System.Text;
using Supervisor.Units;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Supervision.Tests;

/// <summary>
/// Issue #12: the planner takes what a change does from the key table's "on change" column
/// (KeySpec.OnChange), not from a list of key names of its own.
/// </summary>
public class ReconcilePlannerTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n";

    private static UnitDefinition Parse(string text)
    {
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "web.toml", "web", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("web", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return parsed.Definition;
    }

    private static UnitSet Desired(string text)
    {
        var def = Parse(text);
        return new UnitSet(new Dictionary<string, ParsedUnit> { ["web"] = new(def, new Dictionary<string, TomlValue>()) }, new Dictionary<string, string>(), []);
    }

    private static PlanAction PlanOne(string before, string after, ActiveState state = ActiveState.Active) =>
        Assert.Single(ReconcilePlanner.Plan(
            new Dictionary<string, LoadedUnit> { ["web"] = new(Parse(before), state, WantedRunning: true) }, Desired(after)));

    [Theory]
    // apply live: cgroup limits
    [InlineData("[Resources]\nMemoryMax = \"64M\"\n", "[Resources]\nMemoryMax = \"128M\"\n", PlanActionKind.ApplyLive)]
    [InlineData("", "[Resources]\nCPUQuota = \"50%\"\nIOReadBandwidthMax = { \"/dev/sda\" = \"1M\" }\n", PlanActionKind.ApplyLive)]
    // restart: what is exec'd, as whom, with what, in which sandbox
    [InlineData("", "User = \"nobody\"\n", PlanActionKind.Restart)]
    [InlineData("", "Environment = { A = \"1\" }\n", PlanActionKind.Restart)]
    [InlineData("", "LimitNOFILE = 1024\n", PlanActionKind.Restart)]
    [InlineData("", "WatchdogSec = \"10s\"\n", PlanActionKind.Restart)]
    [InlineData("", "Type = \"exec\"\n", PlanActionKind.Restart)]
    [InlineData("", "[Sandbox]\nProtectSystem = \"strict\"\n", PlanActionKind.Restart)]
    // next use: read when the next start, stop or exit needs it
    [InlineData("", "Restart = \"always\"\n", PlanActionKind.Update)]
    [InlineData("", "TimeoutStopSec = \"5s\"\nKillSignal = \"SIGINT\"\n", PlanActionKind.Update)]
    [InlineData("", "ExecStop = [[\"/bin/kill\", \"1\"]]\nExecStartPre = [[\"/bin/true\"]]\n", PlanActionKind.Update)]
    // reload: description and dependency graph
    [InlineData("", "[Unit]\nDescription = \"web\"\nWants = [\"db\"]\n", PlanActionKind.Update)]
    public void A_change_on_a_running_unit_does_what_the_key_table_says(string before, string after, PlanActionKind expected)
    {
        var action = PlanOne(Svc + before, Svc + after);
        Assert.Equal(expected, action.Kind);
        var effects = action.Changes.Select(c => KeyTable.Find(c.Section, c.Key)!.OnChange).ToHashSet();
        HashSet<ChangeEffect> allowed = expected switch
        {
            PlanActionKind.ApplyLive => [ChangeEffect.ApplyLive],
            PlanActionKind.Restart => [ChangeEffect.Restart],
            _ => [ChangeEffect.NextUse, ChangeEffect.Reload],
        };
        Assert.Subset(allowed, effects);
    }

    [Fact]
    public void A_restart_names_only_the_keys_that_need_it_and_wins_over_live_changes()
    {
        var action = PlanOne(Svc, Svc + "User = \"nobody\"\nRestart = \"always\"\n[Resources]\nMemoryMax = \"1G\"\n[Sandbox]\nPrivateTmp = true\n");
        Assert.Equal(PlanActionKind.Restart, action.Kind);
        Assert.Equal("User, PrivateTmp changed and only takes effect in a new process", action.Reason);
        Assert.Equal(4, action.Changes.Count);
    }

    [Fact]
    public void A_live_change_wins_over_next_use_changes() =>
        Assert.Equal(PlanActionKind.ApplyLive, PlanOne(Svc, Svc + "Restart = \"always\"\n[Resources]\nTasksMax = 10\n").Kind);

    [Fact]
    public void A_unit_that_is_not_running_is_not_restarted_for_a_change()
    {
        Assert.Equal(PlanActionKind.Update, PlanOne(Svc, Svc + "User = \"nobody\"\n", ActiveState.Inactive).Kind);
        Assert.Equal(PlanActionKind.ApplyLive, PlanOne(Svc, Svc + "User = \"nobody\"\n[Resources]\nMemoryMax = \"1G\"\n", ActiveState.Failed).Kind);
    }

    /// <summary>Every key reaches the planner through the table: a key the table does not know cannot be planned.</summary>
    [Fact]
    public void Every_changed_key_is_a_row_of_the_key_table()
    {
        var changes = ReconcilePlanner.Diff(Parse(Svc), Parse("[Unit]\nDescription = \"x\"\n[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"always\"\n" +
            "LimitCORE = 0\n[Resources]\nMemoryMax = \"1G\"\n[Sandbox]\nPrivateTmp = true\n"));
        Assert.Equal(["Unit.Description", "Service.ExecStart", "Service.Restart", "Resources.MemoryMax", "Sandbox.PrivateTmp", "Service.LimitCORE"],
            changes.Select(c => $"{c.Section}.{c.Key}"));
        Assert.All(changes, c => Assert.NotNull(KeyTable.Find(c.Section, c.Key)));
    }
}
