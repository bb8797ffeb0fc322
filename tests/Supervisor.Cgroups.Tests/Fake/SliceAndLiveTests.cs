using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

public sealed class SliceTests
{
    private const ulong M = 1024 * 1024;

    [Fact]
    public void V1_unit_in_a_nested_slice_gets_each_slice_limit_at_its_level()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup("supervisor/a.slice/a-b.slice/web.service");
        var slices = new Dictionary<string, ResourceLimits>
        {
            ["a.slice"] = new() { MemoryMax = Limit.Of(512 * M) },
            ["a.slice/a-b.slice"] = new() { MemoryMax = Limit.Of(256 * M), TasksMax = Limit.Of(100) },
        };

        var changes = CgroupTree.CreateUnit(fake.Driver(), CgroupPath.ForUnit("web", "a-b"), p => slices[p.Relative], new ResourceLimits { MemoryMax = Limit.Of(64 * M) });

        Assert.Equal("536870912", File.ReadAllText(fake.V1("memory", "supervisor/a.slice", "memory.limit_in_bytes")));
        Assert.Equal("268435456", File.ReadAllText(fake.V1("memory", "supervisor/a.slice/a-b.slice", "memory.limit_in_bytes")));
        Assert.Equal("100", File.ReadAllText(fake.V1("pids", "supervisor/a.slice/a-b.slice", "pids.max")));
        Assert.Equal("67108864", File.ReadAllText(fake.V1("memory", "supervisor/a.slice/a-b.slice/web.service", "memory.limit_in_bytes")));
        Assert.Equal(["a.slice", "a-b.slice", "a-b.slice", "web.service"],
            changes.Select(c => Path.GetFileName(Path.GetDirectoryName(c.File)!)));
        // Every new v1 cpuset level got its parent's CPUs, or the unit could not take tasks.
        Assert.Equal("0-3", File.ReadAllText(fake.V1("cpuset", "supervisor/a.slice/a-b.slice/web.service", "cpuset.cpus")).Trim());
    }

    [Fact]
    public void V2_unit_in_a_slice_gets_the_slice_limit_above_it()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup("supervisor/web.slice/site.service");

        CgroupTree.CreateUnit(fake.Driver(), CgroupPath.ForUnit("site", "web"), _ => new ResourceLimits { MemoryMax = Limit.Of(512 * M), CPUQuotaPercent = 100 }, ResourceLimits.None);

        Assert.Equal("536870912", File.ReadAllText(fake.V2("supervisor/web.slice", "memory.max")));
        Assert.Equal("100000 100000", File.ReadAllText(fake.V2("supervisor/web.slice", "cpu.max")));
        Assert.Equal("max\n", File.ReadAllText(fake.V2("supervisor/web.slice/site.service", "memory.max")));
    }
}

public sealed class LiveChangeAndDriftTests
{
    private const ulong M = 1024 * 1024;
    private const string Unit = "supervisor/web.service";

    [Fact]
    public void Apply_writes_only_what_differs_and_reports_old_and_new()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var first = new ResourceLimits { MemoryMax = Limit.Of(64 * M), TasksMax = Limit.Of(32), CPUWeight = 200 };
        cg.Create(first);
        var pidsMax = fake.V1("pids", Unit, "pids.max");
        var stamp = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(pidsMax, stamp);

        var changes = cg.Apply(first with { MemoryMax = Limit.Of(128 * M) });

        var c = Assert.Single(changes);
        Assert.Equal(new LimitChange("MemoryMax", fake.V1("memory", Unit, "memory.limit_in_bytes"), "67108864", "134217728"), c);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(pidsMax)); // untouched, not rewritten with the same value
        Assert.Empty(cg.Apply(first with { MemoryMax = Limit.Of(128 * M) }));
    }

    [Fact]
    public void A_removed_key_goes_back_to_the_kernel_default()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var before = new ResourceLimits { MemoryMax = Limit.Of(64 * M), CPUQuotaPercent = 50, CPUWeight = 300 };
        cg.Create(before);

        var changes = cg.Apply(new ResourceLimits { CPUWeight = 300 }, previous: before);

        Assert.Equal(["CPUQuota", "MemoryMax"], changes.Select(c => c.Key).Order());
        Assert.Equal("max", File.ReadAllText(fake.V2(Unit, "memory.max")));
        Assert.Equal("max 100000", File.ReadAllText(fake.V2(Unit, "cpu.max")));
        Assert.Equal("300", File.ReadAllText(fake.V2(Unit, "cpu.weight")));
    }

    [Fact]
    public void Removed_device_limits_are_cleared()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var before = new ResourceLimits { IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = M } };
        cg.Create(before);

        var c = Assert.Single(cg.Apply(ResourceLimits.None, previous: before));

        Assert.Equal(("IOReadBandwidthMax", "254:0 1048576", "254:0 0"), (c.Key, c.Old, c.New));
        Assert.Equal("254:0 0", File.ReadAllText(fake.V1("blkio", Unit, "blkio.throttle.read_bps_device")));
    }

    [Fact]
    public void Drift_is_found_with_declared_and_found_values_and_repaired()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var declared = new ResourceLimits { MemoryMax = Limit.Of(64 * M), TasksMax = Limit.Of(32), AllowedCPUs = CpuSet.Parse("0-1") };
        cg.Create(declared);
        Assert.Empty(cg.CheckDrift(declared));

        // Someone edits the cgroup by hand.
        File.WriteAllText(fake.V1("pids", Unit, "pids.max"), "1000\n");
        File.WriteAllText(fake.V1("memory", Unit, "memory.limit_in_bytes"), "9223372036854771712\n");

        var drift = cg.CheckDrift(declared);
        Assert.Equal(2, drift.Count);
        Assert.Contains(new LimitDrift("TasksMax", fake.V1("pids", Unit, "pids.max"), "32", "1000"), drift);
        Assert.Contains(new LimitDrift("MemoryMax", fake.V1("memory", Unit, "memory.limit_in_bytes"), "67108864", "max"), drift);

        var repaired = cg.Repair(declared);
        Assert.Equal(2, repaired.Count);
        Assert.Equal("32", File.ReadAllText(fake.V1("pids", Unit, "pids.max")));
        Assert.Empty(cg.CheckDrift(declared));
    }

    [Theory]
    [InlineData("memory", "memory.limit_in_bytes", "67108865", "67108864\n")]            // kernel keeps whole pages
    [InlineData("memory", "memory.limit_in_bytes", "-1", "9223372036854771712\n")]      // v1 unlimited read-back
    [InlineData("cpuset", "cpuset.cpus", "0,1,2", "0-2\n")]                              // list vs range
    [InlineData("cpu", "cpu.cfs_quota_us", "-1", "-1\n")]
    public void Kernel_normalised_read_back_is_not_drift(string hierarchy, string file, string declaredWrite, string kernelReadBack)
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var limits = file switch
        {
            "memory.limit_in_bytes" => new ResourceLimits { MemoryMax = declaredWrite == "-1" ? Limit.Infinity : Limit.Of(ulong.Parse(declaredWrite, System.Globalization.CultureInfo.InvariantCulture)) },
            "cpuset.cpus" => new ResourceLimits { AllowedCPUs = CpuSet.Parse(declaredWrite) },
            _ => new ResourceLimits { CPUQuotaPercent = double.PositiveInfinity },
        };
        cg.Create(limits);
        File.WriteAllText(fake.V1(hierarchy, Unit, file), kernelReadBack);

        Assert.Empty(cg.CheckDrift(limits));
        Assert.Empty(cg.Apply(limits));
    }

    [Fact]
    public void V2_drift_on_io_max_for_an_undeclared_device_is_reset()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        var declared = new ResourceLimits { IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = M } };
        cg.Create(declared);
        File.WriteAllText(fake.V2(Unit, "io.max"), "254:0 rbps=1048576 wbps=max riops=max wiops=max\n8:16 rbps=5 wbps=max riops=max wiops=max\n");

        var drift = Assert.Single(cg.CheckDrift(declared));
        Assert.Equal(("8:16 rbps=max", "8:16 rbps=5"), (drift.Declared, drift.Found));
        var fix = Assert.Single(cg.Repair(declared));
        Assert.Equal("8:16 rbps=max", fix.New);
    }

    [Fact]
    public void Memsw_ordering_is_kept_when_raising_both_limits()
    {
        // Stand-in for the kernel's EINVAL ordering rule is not possible on plain files; what the
        // fake can show is that both values land and both changes are reported.
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        cg.Create(new ResourceLimits { MemoryMax = Limit.Of(64 * M), MemorySwapMax = Limit.Of(64 * M) });

        var changes = cg.Apply(new ResourceLimits { MemoryMax = Limit.Of(256 * M), MemorySwapMax = Limit.Of(64 * M) });

        Assert.Equal(["MemoryMax", "MemorySwapMax"], changes.Select(c => c.Key));
        Assert.Equal("335544320", File.ReadAllText(fake.V1("memory", Unit, "memory.memsw.limit_in_bytes")));
    }
}
