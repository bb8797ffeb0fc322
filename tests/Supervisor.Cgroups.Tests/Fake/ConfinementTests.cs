using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

public sealed class ConfinementTests
{
    [Fact]
    public void Writes_outside_the_subtree_are_refused()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var fs = new CgroupFs([Path.Combine(fake.FsRoot, "memory", "supervisor")]);
        var outside = Path.Combine(fake.FsRoot, "memory", "memory.limit_in_bytes");
        var before = File.ReadAllText(outside);

        var e = Assert.Throws<CgroupConfinementException>(() => fs.Write(outside, "1"));
        Assert.Throws<CgroupConfinementException>(() => fs.Write(Path.Combine(fake.FsRoot, "memory", "supervisor", "..", "memory.limit_in_bytes"), "1"));
        Assert.Throws<CgroupConfinementException>(() => fs.Write(Path.Combine(fake.FsRoot, "memory", "supervisor-other", "memory.limit_in_bytes"), "1"));
        Assert.Throws<CgroupConfinementException>(() => fs.Mkdir(Path.Combine(fake.FsRoot, "memory", "elsewhere")));

        Assert.Equal(before, File.ReadAllText(outside));
        Assert.Contains("outside the supervisor's cgroup subtree", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(fake.FsRoot, "memory", "elsewhere")));
    }

    [Fact]
    public void A_unit_path_cannot_climb_out()
    {
        Assert.Throws<ArgumentException>(() => CgroupPath.ForUnit(".."));
        Assert.Throws<ArgumentException>(() => CgroupDriver.Create(FakeLayout(), "../escape"));
        Assert.Throws<ArgumentException>(() => CgroupDriver.Create(FakeLayout(), "/"));
    }

    [Fact]
    public void Subtrees_are_the_root_in_each_hierarchy()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var driver = fake.Driver();
        Assert.Equal(FakeCgroupFs.V1Hierarchies.Select(h => Path.Combine(fake.FsRoot, h, "supervisor")).Order(), driver.Subtrees.Order());
        Assert.Contains("subtree", driver.Describe(), StringComparison.Ordinal);
    }

    private static CgroupLayout FakeLayout()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        return fake.Layout();
    }
}
