using System.Globalization;

namespace Supervisor.Cgroups;

/// <summary>
/// Value checks that hold on every cgroup version: what the kernel would refuse, or what names
/// something the host lacks. One <see cref="CgroupLimitException"/> naming the key, before anything
/// is created.
/// </summary>
internal static class Validation
{
    public static void Validate(ResourceLimits l, DriverContext ctx)
    {
        var page = (ulong)CgroupConstants.PageSize;
        CheckMemoryFloor(ResourceKeys.MemoryMax, l.MemoryMax, page);
        CheckMemoryFloor(ResourceKeys.MemoryHigh, l.MemoryHigh, page);

        if (l.CPUQuotaPeriod is { } period)
        {
            var us = (long)period.TotalMicroseconds;
            if (us < CgroupConstants.CpuPeriodMinUs || us > CgroupConstants.CpuPeriodMaxUs)
            {
                throw new CgroupLimitException(ResourceKeys.CPUQuotaPeriodSec,
                    $"expected a period between 1ms and 1s, got {Fmt(us)}us");
            }
        }
        if (l.CPUQuotaPercent is { } pct)
        {
            if (double.IsNaN(pct) || pct <= 0)
            {
                throw new CgroupLimitException(ResourceKeys.CPUQuota, $"expected a percentage above 0%, got {pct.ToString(CultureInfo.InvariantCulture)}%");
            }
            var (quotaUs, periodUs) = Conversions.CpuQuota(pct, l.CPUQuotaPeriod);
            if (quotaUs is { } q && q < CgroupConstants.CpuQuotaMinUs)
            {
                throw new CgroupLimitException(ResourceKeys.CPUQuota,
                    $"{pct.ToString(CultureInfo.InvariantCulture)}% of a {Fmt(periodUs)}us period is {Fmt(q)}us, below the kernel minimum of {Fmt(CgroupConstants.CpuQuotaMinUs)}us; raise CPUQuota or CPUQuotaPeriodSec");
            }
        }
        CheckRange(ResourceKeys.CPUWeight, l.CPUWeight, CgroupConstants.CpuWeightMin, CgroupConstants.CpuWeightMax);
        CheckRange(ResourceKeys.IOWeight, l.IOWeight, CgroupConstants.IoWeightMin, CgroupConstants.IoWeightMax);

        if (l.AllowedCPUs is { IsEmpty: false } cpus && !cpus.IsSubsetOf(ctx.HostCpus))
        {
            throw new CgroupLimitException(ResourceKeys.AllowedCPUs,
                $"CPUs {cpus.Except(ctx.HostCpus)} do not exist on this host (available: {ctx.HostCpus})");
        }
        if (l.AllowedMemoryNodes is { IsEmpty: false } mems && !mems.IsSubsetOf(ctx.HostMems))
        {
            throw new CgroupLimitException(ResourceKeys.AllowedMemoryNodes,
                $"memory nodes {mems.Except(ctx.HostMems)} do not exist on this host (available: {ctx.HostMems})");
        }

        CheckDevices(ResourceKeys.IOReadBandwidthMax, l.IOReadBandwidthMax, ctx, nonZero: true);
        CheckDevices(ResourceKeys.IOWriteBandwidthMax, l.IOWriteBandwidthMax, ctx, nonZero: true);
        CheckDevices(ResourceKeys.IOReadIOPSMax, l.IOReadIOPSMax, ctx, nonZero: true);
        CheckDevices(ResourceKeys.IOWriteIOPSMax, l.IOWriteIOPSMax, ctx, nonZero: true);
        AccessValidation.Validate(l, ctx);
    }

    private static void CheckMemoryFloor(string key, Limit? limit, ulong page)
    {
        // A value below one page is stored as 0 pages: nothing could run. The kernel takes it; we refuse.
        if (limit is { IsInfinity: false } v && v.Value < page)
        {
            throw new CgroupLimitException(key, $"{Fmt(v.Value)} bytes is below one page ({Fmt(page)} bytes); no process could run in it");
        }
    }

    private static void CheckRange(string key, int? value, int min, int max)
    {
        if (value is { } v && (v < min || v > max))
        {
            throw new CgroupLimitException(key, $"expected {min}..{max}, got {v}");
        }
    }

    private static void CheckDevices(string key, IReadOnlyDictionary<string, ulong>? map, DriverContext ctx, bool nonZero)
    {
        if (map is null)
        {
            return;
        }
        foreach (var (device, value) in map)
        {
            // v1 treats 0 as "remove this rule"; a declared 0 would silently mean "unlimited".
            if (nonZero && value == 0)
            {
                throw new CgroupLimitException(key, $"'{device}': expected a limit above 0, got 0");
            }
            try
            {
                ctx.ResolveDevice(device);
            }
            catch (CgroupException e)
            {
                throw new CgroupLimitException(key, e.Message);
            }
        }
    }

    private static string Fmt(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Fmt(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
