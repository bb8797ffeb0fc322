using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

/// <summary>The v2 mapping table, entry by entry: which key writes which exact string to which file.</summary>
public sealed class V2MappingTests : IDisposable
{
    private const string Unit = "supervisor/web.service";
    private const ulong M = 1024 * 1024;
    private readonly FakeCgroupFs _fake = FakeCgroupFs.UnifiedV2();

    public void Dispose() => _fake.Dispose();

    public static readonly Dictionary<string, (ResourceLimits Limits, string File, string Expected, string? Before)> Table = new()
    {
        ["MemoryMax bytes"] = (new() { MemoryMax = Limit.Of(256 * M) }, "memory.max", "268435456", null),
        ["MemoryMax infinity"] = (new() { MemoryMax = Limit.Infinity }, "memory.max", "max", "1048576\n"),
        ["MemoryHigh"] = (new() { MemoryHigh = Limit.Of(200 * M) }, "memory.high", "209715200", null),
        ["MemoryHigh infinity"] = (new() { MemoryHigh = Limit.Infinity }, "memory.high", "max", "4096\n"),
        ["MemoryLow"] = (new() { MemoryLow = Limit.Of(64 * M) }, "memory.low", "67108864", null),
        ["MemoryMin"] = (new() { MemoryMin = Limit.Of(32 * M) }, "memory.min", "33554432", null),
        ["MemorySwapMax"] = (new() { MemorySwapMax = Limit.Of(128 * M) }, "memory.swap.max", "134217728", null),
        ["MemorySwapMax infinity"] = (new() { MemorySwapMax = Limit.Infinity }, "memory.swap.max", "max", "0\n"),
        ["CPUQuota 50%"] = (new() { CPUQuotaPercent = 50 }, "cpu.max", "50000 100000", null),
        ["CPUQuota 200% over 10ms"] = (new() { CPUQuotaPercent = 200, CPUQuotaPeriod = TimeSpan.FromMilliseconds(10) }, "cpu.max", "20000 10000", null),
        ["CPUQuota infinity"] = (new() { CPUQuotaPercent = double.PositiveInfinity }, "cpu.max", "max 100000", "50000 100000\n"),
        ["CPUWeight"] = (new() { CPUWeight = 200 }, "cpu.weight", "200", null),
        ["AllowedCPUs"] = (new() { AllowedCPUs = CpuSet.Parse("0,1,3") }, "cpuset.cpus", "0-1,3", null),
        ["AllowedMemoryNodes"] = (new() { AllowedMemoryNodes = CpuSet.Parse("0") }, "cpuset.mems", "0", null),
        ["TasksMax"] = (new() { TasksMax = Limit.Of(64) }, "pids.max", "64", null),
        ["TasksMax infinity"] = (new() { TasksMax = Limit.Infinity }, "pids.max", "max", "10\n"),
        ["IOWeight"] = (new() { IOWeight = 200 }, "io.weight", "default 200", null),
        ["IOWeight → bfq"] = (new() { IOWeight = 200 }, "io.bfq.weight", "default 109", null),
        ["IOReadBandwidthMax"] = (new() { IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = 1 * M } }, "io.max", "254:0 rbps=1048576", null),
        ["IOWriteBandwidthMax"] = (new() { IOWriteBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = 2 * M } }, "io.max", "254:0 wbps=2097152", null),
        ["IOReadIOPSMax"] = (new() { IOReadIOPSMax = new Dictionary<string, ulong> { ["/dev/sdb"] = 100 } }, "io.max", "8:16 riops=100", null),
        ["IOWriteIOPSMax"] = (new() { IOWriteIOPSMax = new Dictionary<string, ulong> { ["/dev/sdb"] = 50 } }, "io.max", "8:16 wiops=50", null),
    };

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Key_writes_exact_value_to_its_v2_file(string name)
    {
        var (limits, file, expected, before) = Table[name];
        _fake.AddCgroup(Unit);
        var path = _fake.V2(Unit, file);
        if (before is not null)
        {
            File.WriteAllText(path, before);
        }

        var changes = _fake.Driver().Open(CgroupPath.ForUnit("web")).Create(limits);

        Assert.Equal(expected, File.ReadAllText(path));
        Assert.Contains(changes, c => c.File == path);
    }

    [Fact]
    public void Every_resource_key_has_a_v2_row()
    {
        var declared = typeof(ResourceKeys).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
        var rows = Table.Keys.Select(k => k.Split(' ')[0]).ToHashSet();
        declared.ExceptWith(rows);
        declared.Remove(ResourceKeys.CPUQuotaPeriodSec); // the "CPUQuota 200% over 10ms" row
        declared.ExceptWith(DeviceNetworkTests.HandledOnV2(_fake)); // BPF programs, not files: DeviceNetworkTests
        Assert.Empty(declared);
    }

    [Fact]
    public void Create_enables_controllers_at_every_level_above_the_unit_but_not_in_the_unit()
    {
        _fake.AddCgroup("supervisor/a.slice/web.service");

        _fake.Driver().Open(CgroupPath.ForUnit("web", "a")).Create(ResourceLimits.None);

        Assert.Equal("+memory +cpu +cpuset +pids +io", File.ReadAllText(_fake.V2("supervisor", "cgroup.subtree_control")));
        Assert.Equal("+memory +cpu +cpuset +pids +io", File.ReadAllText(_fake.V2("supervisor/a.slice", "cgroup.subtree_control")));
        Assert.Equal("\n", File.ReadAllText(_fake.V2("supervisor/a.slice/web.service", "cgroup.subtree_control")));
    }

    [Fact]
    public void PrepareRoot_enables_controllers_in_the_parent_of_the_subtree()
    {
        _fake.Driver().PrepareRoot();

        Assert.Equal("+memory +cpu +cpuset +pids +io", File.ReadAllText(_fake.V2("", "cgroup.subtree_control")));
    }

    [Fact]
    public void ProcsFiles_is_the_one_v2_cgroup_procs()
    {
        var cg = _fake.Driver().Open(CgroupPath.ForUnit("web", "a-b"));

        Assert.Equal([_fake.V2("supervisor/a.slice/a-b.slice/web.service", "cgroup.procs")], cg.ProcsFiles);
    }
}
