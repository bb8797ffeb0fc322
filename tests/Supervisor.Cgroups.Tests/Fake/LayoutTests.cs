using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

public sealed class LayoutTests
{
    [Fact]
    public void Hybrid_host_is_detected_with_its_v1_controllers_and_own_cgroup()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var layout = fake.Layout();

        Assert.Equal(CgroupMode.Hybrid, layout.Mode);
        Assert.False(layout.IsV2);
        Assert.Equal(Path.Combine(fake.FsRoot, "unified"), layout.UnifiedMount);
        Assert.Equal(["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"], layout.AvailableControllers.Order());
        Assert.Equal(Path.Combine(fake.FsRoot, "memory"), layout.V1Mounts["memory"]);
        Assert.Equal("/process_api/abc", layout.OwnCgroup["memory"]);
        Assert.Equal("/", layout.OwnCgroup[""]);
        Assert.Equal("/", layout.OwnCgroup["name=systemd"]);
        var line = layout.Describe();
        Assert.StartsWith("cgroup v1 (hybrid", line, StringComparison.Ordinal);
        Assert.Contains("controllers: blkio cpu cpuacct cpuset devices freezer memory pids", line, StringComparison.Ordinal);
        Assert.Contains("own cgroup: memory:/process_api/abc", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Legacy_host_has_no_cgroup2_mount()
    {
        using var fake = FakeCgroupFs.HybridV1();
        Directory.Delete(Path.Combine(fake.FsRoot, "unified"), recursive: true);

        var layout = fake.Layout();

        Assert.Equal(CgroupMode.Legacy, layout.Mode);
        Assert.Null(layout.UnifiedMount);
    }

    [Fact]
    public void Unified_host_is_detected_with_its_controllers()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        var layout = fake.Layout();

        Assert.Equal(CgroupMode.Unified, layout.Mode);
        Assert.True(layout.IsV2);
        Assert.Contains("memory", layout.AvailableControllers);
        Assert.Contains("hugetlb", layout.AvailableControllers);
        Assert.Equal("/init.scope", layout.OwnCgroup[""]);
        Assert.StartsWith("cgroup v2 (unified", layout.Describe(), StringComparison.Ordinal);
        Assert.Equal(2, fake.Driver().Version);
    }

    [Fact]
    public void Comounted_cpu_cpuacct_maps_both_names_to_one_hierarchy()
    {
        using var fake = FakeCgroupFs.HybridV1(omit: ["cpu", "cpuacct"]);
        var both = Path.Combine(fake.FsRoot, "cpu,cpuacct");
        Directory.CreateDirectory(both);
        File.WriteAllText(Path.Combine(both, "cgroup.procs"), "");
        Directory.CreateSymbolicLink(Path.Combine(fake.FsRoot, "cpu"), both);
        Directory.CreateSymbolicLink(Path.Combine(fake.FsRoot, "cpuacct"), both);

        var layout = fake.Layout();

        Assert.Equal(both, layout.V1Mounts["cpu"]);
        Assert.Equal(both, layout.V1Mounts["cpuacct"]);
        Assert.Single(fake.Driver().Subtrees, s => s.StartsWith(both, StringComparison.Ordinal));
    }

    [Fact]
    public void Under_systemd_the_delegated_subtree_is_our_service_cgroup()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        File.WriteAllText(fake.ProcSelfCgroup, "0::/system.slice/supervisor.service\n");
        var saved = Environment.GetEnvironmentVariable("INVOCATION_ID");
        try
        {
            Environment.SetEnvironmentVariable("INVOCATION_ID", null);
            Assert.Null(fake.Layout().DelegatedSubtree());
            Environment.SetEnvironmentVariable("INVOCATION_ID", "0123456789abcdef");
            var subtree = fake.Layout().DelegatedSubtree();
            Assert.Equal("system.slice/supervisor.service", subtree);
            Assert.Equal([Path.Combine(fake.FsRoot, "system.slice/supervisor.service")], CgroupDriver.Create(fake.Layout(), subtree!).Subtrees);
        }
        finally
        {
            Environment.SetEnvironmentVariable("INVOCATION_ID", saved);
        }
    }

    [Fact]
    public void No_cgroupfs_is_a_clear_error()
    {
        var dir = Path.Combine(Path.GetTempPath(), "supervisor-cgroups-empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var e = Assert.Throws<CgroupLayoutException>(() => CgroupLayout.Detect(dir, "/nonexistent"));
            Assert.Contains("neither cgroup.controllers nor any v1 controller hierarchy", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void This_host_is_detected()
    {
        if (!Directory.Exists("/sys/fs/cgroup"))
        {
            Assert.Skip("no /sys/fs/cgroup on this host");
        }
        var layout = CgroupLayout.Detect();
        var isV2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        Assert.Equal(isV2, layout.IsV2);
        if (!isV2)
        {
            Assert.Contains("memory", layout.V1Mounts.Keys);
        }
        Assert.NotEmpty(layout.OwnCgroup);
    }
}
