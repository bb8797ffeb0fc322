using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

public sealed class CannotHonourTests
{
    private const ulong M = 1024 * 1024;

    private static readonly ResourceLimits Everything = new()
    {
        MemoryMax = Limit.Of(256 * M), MemoryHigh = Limit.Of(200 * M), MemoryLow = Limit.Of(64 * M),
        MemoryMin = Limit.Of(32 * M), MemorySwapMax = Limit.Of(64 * M), CPUQuotaPercent = 50, CPUWeight = 200,
        AllowedCPUs = CpuSet.Parse("0"), AllowedMemoryNodes = CpuSet.Parse("0"), TasksMax = Limit.Of(32), IOWeight = 200,
        IOReadBandwidthMax = new Dictionary<string, ulong> { ["/dev/vda"] = M },
    };

    [Fact]
    public void V1_reports_MemoryHigh_MemoryMin_and_the_approximations()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var report = fake.Driver().CannotHonour(Everything).ToDictionary(u => u.Key);

        Assert.Equal(["IOWeight", "MemoryHigh", "MemoryLow", "MemoryMin"], report.Keys.Order());
        Assert.Equal("MemoryHigh: not available on cgroup v1 (no memory.high); not applied", report["MemoryHigh"].ToString());
        Assert.Equal(UnhonouredKind.NotOnThisVersion, report["MemoryMin"].Kind);
        Assert.Equal(UnhonouredKind.Approximated, report["MemoryLow"].Kind);
        Assert.Contains("blkio.bfq.weight", report["IOWeight"].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_without_controllers_names_the_missing_controller_per_key()
    {
        using var fake = FakeCgroupFs.HybridV1(omit: ["blkio", "pids"]);
        var report = fake.Driver().CannotHonour(Everything);

        Assert.Contains(report, u => u.ToString() == "IOWeight: blkio controller is not mounted" && u.Kind == UnhonouredKind.ControllerMissing);
        Assert.Contains(report, u => u.ToString() == "IOReadBandwidthMax: blkio controller is not mounted");
        Assert.Contains(report, u => u.ToString() == "TasksMax: pids controller is not mounted");
    }

    [Fact]
    public void V1_swap_without_swap_accounting_is_reported()
    {
        using var fake = FakeCgroupFs.HybridV1(swapAccounting: false);
        var report = fake.Driver().CannotHonour(new ResourceLimits { MemoryMax = Limit.Of(M * 64), MemorySwapMax = Limit.Of(M) });

        var u = Assert.Single(report);
        Assert.Equal(ResourceKeys.MemorySwapMax, u.Key);
        Assert.Equal(UnhonouredKind.FileMissing, u.Kind);
        Assert.Contains("swapaccount=1", u.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_swap_limit_needs_a_finite_MemoryMax()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var u = Assert.Single(fake.Driver().CannotHonour(new ResourceLimits { MemorySwapMax = Limit.Of(M) }));
        Assert.Contains("needs a finite MemoryMax", u.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void V2_honours_everything_when_all_controllers_are_enabled()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        Assert.Empty(fake.Driver().CannotHonour(Everything));
    }

    [Fact]
    public void V2_reports_controllers_not_enabled_for_the_subtree()
    {
        using var fake = FakeCgroupFs.UnifiedV2(controllers: "cpu memory");
        var report = fake.Driver().CannotHonour(Everything);

        Assert.Contains(report, u => u.Key == "TasksMax" && u.Kind == UnhonouredKind.ControllerMissing && u.Reason.Contains("pids controller", StringComparison.Ordinal));
        Assert.Contains(report, u => u.Key == "AllowedCPUs");
        Assert.Contains(report, u => u.Key == "IOWeight");
        Assert.DoesNotContain(report, u => u.Key == "MemoryHigh");
    }

    [Fact]
    public void V2_without_swap_accounting_reports_MemorySwapMax()
    {
        using var fake = FakeCgroupFs.UnifiedV2(swap: false);
        var u = Assert.Single(fake.Driver().CannotHonour(new ResourceLimits { MemorySwapMax = Limit.Of(M) }));
        Assert.Equal(UnhonouredKind.FileMissing, u.Kind);
    }

    [Fact]
    public void Nothing_declared_nothing_reported()
    {
        using var fake = FakeCgroupFs.HybridV1(omit: ["memory", "cpu", "pids"]);
        Assert.Empty(fake.Driver().CannotHonour(ResourceLimits.None));
    }
}
