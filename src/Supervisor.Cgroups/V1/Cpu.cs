namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 cpu controller: CPUQuota → cpu.cfs_period_us then cpu.cfs_quota_us ("-1" = none), CPUWeight →
/// cpu.shares (systemd's w × 1024 / 100). Throttling counters come from cpu.stat.
/// </summary>
internal sealed class Cpu(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("cpu");

    public string Name => "cpu";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted",
                (ResourceKeys.CPUQuota, l.CPUQuotaPercent is not null), (ResourceKeys.CPUWeight, l.CPUWeight is not null));
            return;
        }
        if (l.CPUQuotaPercent is not null && !File.Exists(Path.Combine(_hierarchy!, "cpu.cfs_quota_us")))
        {
            into.Add(new Unhonoured(ResourceKeys.CPUQuota, "cpu.cfs_quota_us is absent: the kernel lacks CFS bandwidth control (CONFIG_CFS_BANDWIDTH); not applied", UnhonouredKind.FileMissing));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        if (l.CPUQuotaPercent is { } pct && File.Exists(Path.Combine(_hierarchy!, "cpu.cfs_quota_us")))
        {
            var (quota, period) = Conversions.CpuQuota(pct, l.CPUQuotaPeriod);
            into.Add(LimitSetting.Simple(ResourceKeys.CPUQuotaPeriodSec, Path.Combine(dir, "cpu.cfs_period_us"), Values.L(period), Values.NormaliseCount));
            into.Add(LimitSetting.Simple(ResourceKeys.CPUQuota, Path.Combine(dir, "cpu.cfs_quota_us"), quota is { } q ? Values.L(q) : "-1", Values.NormaliseCount));
        }
        if (l.CPUWeight is { } weight)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.CPUWeight, Path.Combine(dir, "cpu.shares"), Values.L(Conversions.CpuWeightToShares(weight)), Values.NormaliseCount));
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        if (r.Read(dir, "cpu.stat"))
        {
            s.CpuPeriods = r.Keyed("nr_periods"u8);
            s.CpuThrottledPeriods = r.Keyed("nr_throttled"u8);
            s.CpuThrottledNs = r.Keyed("throttled_time"u8); // v1 reports nanoseconds
        }
        if (r.UsageOnly)
        {
            return;
        }
        if (r.Read(dir, "cpu.cfs_quota_us", optional: true))
        {
            s.CpuQuotaUs = r.LimitValue();
        }
        if (r.Read(dir, "cpu.cfs_period_us", optional: true))
        {
            s.CpuPeriodUs = r.Single(out _);
        }
    }
}
