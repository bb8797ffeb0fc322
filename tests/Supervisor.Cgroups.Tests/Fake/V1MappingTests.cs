using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

/// <summary>The v1 mapping table, entry by entry: which key writes which exact string to which file.</summary>
public sealed class V1MappingTests : IDisposable
{
    private const string Unit = "supervisor/web.service";
    private const ulong M = 1024 * 1024;
    private readonly FakeCgroupFs _fake = FakeCgroupFs.HybridV1();

    public void Dispose() => _fake.Dispose();

    public static readonly Dictionary<string, (ResourceLimits Limits, string Hierarchy, string File, string Expected, string? Before)> Table = new()
    {
        ["MemoryMax bytes"] = (new() { MemoryMax = Limit.Of(256 * M) }, "memory", "memory.limit_in_bytes", "268435456", null),
        ["MemoryMax infinity"] = (new() { MemoryMax = Limit.Infinity }, "memory", "memory.limit_in_bytes", "-1", "1048576\n"),
        ["MemoryLow → soft limit"] = (new() { MemoryLow = Limit.Of(64 * M) }, "memory", "memory.soft_limit_in_bytes", "67108864", null),
        ["MemoryLow infinity"] = (new() { MemoryLow = Limit.Infinity }, "memory", "memory.soft_limit_in_bytes", "-1", "4096\n"),
        ["MemorySwapMax → memsw = max + swap"] = (new() { MemoryMax = Limit.Of(256 * M), MemorySwapMax = Limit.Of(128 * M) }, "memory", "memory.memsw.limit_in_bytes", "402653184", null),
        ["MemorySwapMax infinity"] = (new() { MemoryMax = Limit.Of(256 * M), MemorySwapMax = Limit.Infinity }, "memory", "memory.memsw.limit_in_bytes", "-1", "536870912\n"),
        ["CPUQuota 50% period"] = (new() { CPUQuotaPercent = 50 }, "cpu", "cpu.cfs_period_us", "100000", "50000\n"),
        ["CPUQuota 50% quota"] = (new() { CPUQuotaPercent = 50 }, "cpu", "cpu.cfs_quota_us", "50000", null),
        ["CPUQuota 150% over 50ms period"] = (new() { CPUQuotaPercent = 150, CPUQuotaPeriod = TimeSpan.FromMilliseconds(50) }, "cpu", "cpu.cfs_quota_us", "75000", null),
        ["CPUQuotaPeriodSec 50ms"] = (new() { CPUQuotaPercent = 150, CPUQuotaPeriod = TimeSpan.FromMilliseconds(50) }, "cpu", "cpu.cfs_period_us", "50000", null),
        ["CPUQuota infinity"] = (new() { CPUQuotaPercent = double.PositiveInfinity }, "cpu", "cpu.cfs_quota_us", "-1", "20000\n"),
        ["CPUWeight 200 → shares"] = (new() { CPUWeight = 200 }, "cpu", "cpu.shares", "2048", null),
        ["CPUWeight 1 → shares"] = (new() { CPUWeight = 1 }, "cpu", "cpu.shares", "10", null),
        ["CPUWeight 10000 → shares"] = (new() { CPUWeight = 10000 }, "cpu", "cpu.shares", "102400", null),
        ["AllowedCPUs"] = (new() { AllowedCPUs = CpuSet.Parse("0,1") }, "cpuset", "cpuset.cpus", "0-1", null),
        ["AllowedMemoryNodes"] = (new() { AllowedMemoryNodes = CpuSet.Parse("0") }, "cpuset", "cpuset.mems", "0", null),
        ["TasksMax count"] = (new() { TasksMax = Limit.Of(32) }, "pids", "pids.max", "32", null),
        ["TasksMax infinity"] = (new() { TasksMax = Limit.Infinity }, "pids", "pids.max", "max", "10\n"),
        ["IOWeight → bfq (no CFQ)"] = (new() { IOWeight = 200 }, "blkio", "blkio.bfq.weight", "109", null),
        ["IOWeight 1 → bfq"] = (new() { IOWeight = 1 }, "blkio", "blkio.bfq.weight", "1", null),
        ["IOWeight 10000 → bfq"] = (new() { IOWeight = 10000 }, "blkio", "blkio.bfq.weight", "1000", null),
        ["IOReadBandwidthMax"] = (new() { IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = 1 * M } }, "blkio", "blkio.throttle.read_bps_device", "254:0 1048576", null),
        ["IOWriteBandwidthMax"] = (new() { IOWriteBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = 2 * M } }, "blkio", "blkio.throttle.write_bps_device", "254:0 2097152", null),
        ["IOReadIOPSMax"] = (new() { IOReadIOPSMax = new Dictionary<string, ulong> { ["/dev/sdb"] = 100 } }, "blkio", "blkio.throttle.read_iops_device", "8:16 100", null),
        ["IOWriteIOPSMax"] = (new() { IOWriteIOPSMax = new Dictionary<string, ulong> { ["/dev/sdb"] = 50 } }, "blkio", "blkio.throttle.write_iops_device", "8:16 50", null),
    };

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Key_writes_exact_value_to_its_v1_file(string name)
    {
        var (limits, hierarchy, file, expected, before) = Table[name];
        _fake.AddCgroup(Unit);
        var path = _fake.V1(hierarchy, Unit, file);
        if (before is not null)
        {
            File.WriteAllText(path, before);
        }

        var changes = _fake.Driver().Open(CgroupPath.ForUnit("web")).Create(limits);

        Assert.Equal(expected, File.ReadAllText(path));
        Assert.Contains(changes, c => c.File == path);
    }

    [Fact]
    public void Every_resource_key_has_a_v1_row_or_is_reported_unhonoured()
    {
        var mapped = Table.Values.Select(v => KeyOf(v.Limits)).ToHashSet();
        var driver = _fake.Driver();
        var unhonoured = driver.CannotHonour(new ResourceLimits { MemoryHigh = Limit.Of(M), MemoryMin = Limit.Of(M) }).Select(u => u.Key);
        var all = typeof(ResourceKeys).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
        all.ExceptWith(mapped);
        all.ExceptWith(unhonoured);
        // Device keys go through devices.allow/deny and BPF-only keys refuse the unit: DeviceNetworkTests.
        all.ExceptWith(DeviceNetworkTests.HandledOnV1(_fake));
        all.Remove(ResourceKeys.CPUQuotaPeriodSec); // covered by the "CPUQuotaPeriodSec 50ms" row via CPUQuota
        Assert.Empty(all);
    }

    private static string KeyOf(ResourceLimits l) =>
        l.MemorySwapMax is not null ? ResourceKeys.MemorySwapMax
        : l.MemoryMax is not null ? ResourceKeys.MemoryMax
        : l.MemoryLow is not null ? ResourceKeys.MemoryLow
        : l.CPUQuotaPercent is not null ? ResourceKeys.CPUQuota
        : l.CPUWeight is not null ? ResourceKeys.CPUWeight
        : l.AllowedCPUs is not null ? ResourceKeys.AllowedCPUs
        : l.AllowedMemoryNodes is not null ? ResourceKeys.AllowedMemoryNodes
        : l.TasksMax is not null ? ResourceKeys.TasksMax
        : l.IOWeight is not null ? ResourceKeys.IOWeight
        : l.IOReadBandwidthMax is not null ? ResourceKeys.IOReadBandwidthMax
        : l.IOWriteBandwidthMax is not null ? ResourceKeys.IOWriteBandwidthMax
        : l.IOReadIOPSMax is not null ? ResourceKeys.IOReadIOPSMax
        : l.IOWriteIOPSMax is not null ? ResourceKeys.IOWriteIOPSMax
        : "?";

    [Fact]
    public void IOWeight_goes_to_blkio_weight_when_CFQ_is_there()
    {
        using var fake = FakeCgroupFs.HybridV1(cfqWeight: true);
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V1("blkio", Unit, "blkio.weight"), "500\n");

        fake.Driver().Open(CgroupPath.ForUnit("web")).Create(new ResourceLimits { IOWeight = 50 });

        Assert.Equal("250", File.ReadAllText(fake.V1("blkio", Unit, "blkio.weight")));
        Assert.Equal("100\n", File.ReadAllText(fake.V1("blkio", Unit, "blkio.bfq.weight")));
    }

    [Fact]
    public void Undeclared_cpuset_is_copied_from_the_parent_so_tasks_can_join()
    {
        _fake.AddCgroup(Unit);
        _fake.Driver().Open(CgroupPath.ForUnit("web")).Create(ResourceLimits.None);

        Assert.Equal("0-3", File.ReadAllText(_fake.V1("cpuset", Unit, "cpuset.cpus")).Trim());
        Assert.Equal("0-1", File.ReadAllText(_fake.V1("cpuset", Unit, "cpuset.mems")).Trim());
    }

    [Fact]
    public void MemoryHigh_and_MemoryMin_write_nothing_on_v1()
    {
        _fake.AddCgroup(Unit);
        var before = Directory.GetFiles(_fake.V1("memory", Unit, "")).ToDictionary(f => f, File.ReadAllText);

        var changes = _fake.Driver().Open(CgroupPath.ForUnit("web")).Create(new ResourceLimits { MemoryHigh = Limit.Of(M), MemoryMin = Limit.Of(M) });

        Assert.DoesNotContain(changes, c => c.File.Contains("/memory/", StringComparison.Ordinal));
        Assert.All(before, kv => Assert.Equal(kv.Value, File.ReadAllText(kv.Key)));
    }

    [Fact]
    public void Join_writes_the_pid_to_every_hierarchy()
    {
        _fake.AddCgroup(Unit);
        var cg = _fake.Driver().Open(CgroupPath.ForUnit("web"));

        cg.Join(4242);

        Assert.Equal(FakeCgroupFs.V1Hierarchies.Order().Select(h => _fake.V1(h, Unit, "cgroup.procs")), cg.ProcsFiles.Order());
        Assert.All(cg.ProcsFiles, f => Assert.Equal("4242", File.ReadAllText(f)));
    }
}
