namespace Supervisor.Cgroups;

/// <summary>systemd's unit conversions between v2 knobs and v1 files (src/core/cgroup.c).</summary>
public static class Conversions
{
    /// <summary>
    /// CPUWeight → v1 cpu.shares: clamp(w × 1024 / 100, 2, 262144), integer arithmetic, so the
    /// default weight 100 maps to the default 1024 shares. (The older linear OCI formula maps 1024
    /// shares to weight 39 the other way round; we use systemd's, in both directions.)
    /// </summary>
    public static long CpuWeightToShares(int weight)
        => Math.Clamp((long)weight * CgroupConstants.CpuSharesDefault / CgroupConstants.CpuWeightDefault,
            CgroupConstants.CpuSharesMin, CgroupConstants.CpuSharesMax);

    /// <summary>v1 cpu.shares → CPUWeight: clamp(s × 100 / 1024, 1, 10000).</summary>
    public static int SharesToCpuWeight(long shares)
        => (int)Math.Clamp(shares * CgroupConstants.CpuWeightDefault / CgroupConstants.CpuSharesDefault,
            CgroupConstants.CpuWeightMin, CgroupConstants.CpuWeightMax);

    /// <summary>IOWeight → v1 blkio.weight: clamp(w × 500 / 100, 10, 1000).</summary>
    public static int IoWeightToBlkioWeight(int weight)
        => (int)Math.Clamp((long)weight * 500 / CgroupConstants.IoWeightDefault,
            CgroupConstants.BlkioWeightMin, CgroupConstants.BlkioWeightMax);

    /// <summary>
    /// IOWeight → BFQ weight (1..1000, default 100), systemd's piecewise-linear BFQ_WEIGHT():
    /// 1..100 maps onto 1..100 and 100..10000 onto 100..1000.
    /// </summary>
    public static int IoWeightToBfqWeight(int weight)
    {
        const long bfqMin = 1, bfqDefault = 100, bfqMax = 1000;
        long w = weight, def = CgroupConstants.IoWeightDefault;
        return (int)(w <= def
            ? bfqDefault - (def - w) * (bfqDefault - bfqMin) / (def - CgroupConstants.IoWeightMin)
            : bfqDefault + (w - def) * (bfqMax - bfqDefault) / (CgroupConstants.IoWeightMax - def));
    }

    /// <summary>
    /// CPUQuota percent and period → (quota µs, period µs), as systemd computes cpu.max: quota per
    /// second = pct × 10000 µs, then scaled to the period with integer arithmetic. A null result
    /// quota means "max" (percent is +∞: no quota).
    /// </summary>
    public static (long? QuotaUs, long PeriodUs) CpuQuota(double percent, TimeSpan? period)
    {
        long periodUs = (long)(period ?? CgroupConstants.CpuQuotaPeriodDefault).TotalMicroseconds;
        if (double.IsPositiveInfinity(percent))
        {
            return (null, periodUs);
        }
        long perSecUs = (long)Math.Round(percent * 10_000);
        return (perSecUs * periodUs / 1_000_000, periodUs);
    }
}
