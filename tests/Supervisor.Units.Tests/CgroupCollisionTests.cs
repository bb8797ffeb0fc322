using Supervisor.Cgroups;
using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #13: two units whose names map to one cgroup would kill each other (starting one empties
/// the cgroup the other runs in); the loader refuses every such set, on each unit, naming the others.
/// </summary>
public class CgroupCollisionTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/sleep\", \"100\"]\n";
    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };

    [Fact]
    public void A_unit_and_the_same_name_with_service_are_both_refused_naming_each_other()
    {
        using var t = new TempUnits();
        var a = t.Write("good1.toml", Svc);
        var b = t.Write("good1.service.toml", Svc);
        t.Write("other.toml", Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        var expected = $"units 'good1' ({a}) and 'good1.service' ({b}) would run in the same cgroup 'good1.service', where starting one kills the other; rename one of the files";
        Assert.Equal(new[] { $"{a}: good1: {expected}", $"{b}: good1.service: {expected}" }.Order(StringComparer.Ordinal),
            set.Diagnostics.Select(d => d.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal(["good1", "good1.service"], set.BadUnits.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["other"], set.Units.Keys);
    }

    [Fact]
    public void The_same_names_in_different_slices_do_not_collide()
    {
        using var t = new TempUnits();
        t.Write("a.slice.toml", "[Resources]\nMemoryMax = \"1G\"\n");
        t.Write("web.toml", Svc + "Slice = \"a\"\n");
        t.Write("web.service.toml", Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
    }

    [Fact]
    public void Names_that_meet_in_a_slice_collide_there()
    {
        using var t = new TempUnits();
        t.Write("a.slice.toml", "[Resources]\nMemoryMax = \"1G\"\n");
        t.Write("web.toml", Svc + "Slice = \"a\"\n");
        t.Write("web.service.toml", Svc + "Slice = \"a\"\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.All(set.Diagnostics, d => Assert.Contains("would run in the same cgroup 'a.slice/web.service'", d.Message));
        Assert.Equal(2, set.Diagnostics.Count);
    }

    [Fact]
    public void A_unit_that_dependencies_name_stays_known_when_refused()
    {
        using var t = new TempUnits();
        t.Write("db.toml", Svc);
        t.Write("db.service.toml", Svc);
        t.Write("web.toml", Svc + "[Unit]\nRequires = [\"db\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(["web"], set.Units.Keys);
        Assert.DoesNotContain(set.DiagnosticsFor("web"), d => d.Severity == Severity.Error);
    }

    /// <summary>The loader's idea of a unit's cgroup is the cgroup driver's, name for name.</summary>
    [Theory]
    [InlineData("web", null)]
    [InlineData("web.service", null)]
    [InlineData("web.v2", null)]
    [InlineData("getty@tty1", "a-b.slice")]
    [InlineData("db", "a.slice")]
    public void Unit_cgroups_are_named_as_the_cgroup_driver_names_them(string unit, string? slice)
    {
        Assert.Equal(CgroupPath.ForUnit(unit, slice).Relative, UnitCgroup.RelativePath(slice, UnitCgroup.Leaf(unit)));
    }
}
