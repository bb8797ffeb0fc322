using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

/// <summary>Bad values fail with one error naming the key, before any cgroup directory exists.</summary>
public sealed class ValidationTests : IDisposable
{
    private readonly FakeCgroupFs _fake = FakeCgroupFs.HybridV1();

    public void Dispose() => _fake.Dispose();

    public static readonly Dictionary<string, (ResourceLimits Limits, string Key, string Fragment)> Bad = new()
    {
        ["memory below a page"] = (new() { MemoryMax = Limit.Of(100) }, "MemoryMax", "below one page"),
        ["MemoryHigh below a page"] = (new() { MemoryHigh = Limit.Of(1) }, "MemoryHigh", "below one page"),
        ["quota below 1ms"] = (new() { CPUQuotaPercent = 0.5 }, "CPUQuota", "below the kernel minimum of 1000us"),
        ["quota zero"] = (new() { CPUQuotaPercent = 0 }, "CPUQuota", "above 0%"),
        ["period too long"] = (new() { CPUQuotaPercent = 50, CPUQuotaPeriod = TimeSpan.FromSeconds(2) }, "CPUQuotaPeriodSec", "between 1ms and 1s"),
        ["weight zero"] = (new() { CPUWeight = 0 }, "CPUWeight", "expected 1..10000, got 0"),
        ["weight too big"] = (new() { CPUWeight = 10001 }, "CPUWeight", "expected 1..10000, got 10001"),
        ["io weight"] = (new() { IOWeight = 0 }, "IOWeight", "expected 1..10000"),
        ["cpus the host lacks"] = (new() { AllowedCPUs = CpuSet.Parse("2-5") }, "AllowedCPUs", "CPUs 4-5 do not exist on this host (available: 0-3)"),
        ["nodes the host lacks"] = (new() { AllowedMemoryNodes = CpuSet.Parse("3") }, "AllowedMemoryNodes", "memory nodes 3 do not exist"),
        ["missing device"] = (new() { IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/nope"] = 1 } }, "IOReadBandwidthMax", "device '/dev/nope' does not exist"),
        ["zero bandwidth"] = (new() { IOWriteIOPSMax = new Dictionary<string, ulong> { ["/dev/vda"] = 0 } }, "IOWriteIOPSMax", "expected a limit above 0"),
    };

    public static TheoryData<string> Cases => new(Bad.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_value_is_one_typed_error_naming_the_key_and_nothing_is_created(string name)
    {
        var (limits, key, fragment) = Bad[name];
        var cg = _fake.Driver().Open(CgroupPath.ForUnit("fresh"));

        var e = Assert.Throws<CgroupLimitException>(() => cg.Create(limits));

        Assert.Equal(key, e.Key);
        Assert.StartsWith(key + ": ", e.Message, StringComparison.Ordinal);
        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
        Assert.False(cg.Exists());
    }

    [Fact]
    public void A_bad_slice_leaves_no_level_behind()
    {
        var driver = _fake.Driver();
        var unit = CgroupPath.ForUnit("web", "a-b");

        Assert.Throws<CgroupLimitException>(() => CgroupTree.CreateUnit(driver, unit,
            p => p.Relative == "a.slice/a-b.slice" ? new ResourceLimits { CPUWeight = 0 } : ResourceLimits.None,
            ResourceLimits.None));

        Assert.False(driver.Open(CgroupPath.ForSlice("a")).Exists());
    }

    [Fact]
    public void Real_device_resolution_names_the_problem()
    {
        var e1 = Assert.Throws<CgroupException>(() => DriverContextAccess.Stat("/dev/null"));
        Assert.Equal("'/dev/null' is not a block device", e1.Message);
        var e2 = Assert.Throws<CgroupException>(() => DriverContextAccess.Stat("/dev/supervisor-no-such-disk"));
        Assert.Equal("device '/dev/supervisor-no-such-disk' does not exist", e2.Message);
        var disk = Directory.Exists("/sys/dev/block") ? Directory.GetFileSystemEntries("/sys/dev/block").Select(Path.GetFileName).FirstOrDefault() : null;
        if (disk is null)
        {
            Assert.Skip("no block device on this host");
        }
        var name = Path.GetFileName(new DirectoryInfo(Path.Combine("/sys/dev/block", disk)).ResolveLinkTarget(true)!.FullName);
        if (!File.Exists("/dev/" + name))
        {
            Assert.Skip($"/dev/{name} is not present");
        }
        var (major, minor) = DriverContextAccess.Stat("/dev/" + name);
        Assert.Equal(disk, $"{major}:{minor}");
    }
}

internal static class DriverContextAccess
{
    public static (uint, uint) Stat(string path) => DriverContext.StatDevice(path);
}
