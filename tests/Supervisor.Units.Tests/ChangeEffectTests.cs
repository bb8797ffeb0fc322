using Supervisor.Units.Keys;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #12: the key table says what a change to each key does to a running unit, and the
/// reconciler acts on that column alone (ReconcilePlannerTests show it does).
/// </summary>
public class ChangeEffectTests
{
    [Fact]
    public void Every_key_says_what_a_change_to_it_does() =>
        // OnChange is required and ChangeEffect has no zero member: a row written with
        // default(ChangeEffect), or a cast of a number that is not an effect, fails here.
        Assert.All(KeyTable.All, k => Assert.True(Enum.IsDefined(k.OnChange), $"{k.Section}.{k.Name} has no change effect ({(int)k.OnChange})"));

    [Fact]
    public void Zero_is_not_an_effect() => Assert.False(Enum.IsDefined(default(ChangeEffect)));

    [Fact]
    public void What_is_set_up_before_execve_needs_a_new_process_and_cgroup_limits_apply_live()
    {
        Assert.All(KeyTable.InSection(KeyTable.SandboxSection), k => Assert.Equal(ChangeEffect.Restart, k.OnChange));
        Assert.All(KeyTable.All.Where(k => k.Name.StartsWith("Limit", StringComparison.Ordinal)), k => Assert.Equal(ChangeEffect.Restart, k.OnChange));
        Assert.All(KeyTable.InSection(KeyTable.ResourcesSection), k => Assert.Equal(ChangeEffect.ApplyLive, k.OnChange));
        Assert.All(KeyTable.InSection(KeyTable.UnitSection), k => Assert.Equal(ChangeEffect.Reload, k.OnChange));
    }
}
