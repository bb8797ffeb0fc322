namespace Supervisor.Cgroups;

/// <summary>PSI totals of one resource, in microseconds stalled. Full is null where the kernel has no full line.</summary>
public readonly record struct PressureTotals(ulong SomeUs, ulong? FullUs);

/// <summary>
/// One accounting snapshot of a cgroup, shared by metrics, `status` and the D-Bus properties.
/// Every field is null when the host cannot provide it (PSI on v1, memory.peak before 5.19) or when
/// its file could not be read. A file that vanishes mid-read (the unit is stopping) yields a
/// partial snapshot: that field null and <see cref="ReadErrors"/> counting the failed reads, never an
/// exception, so the metrics exporter can count scrape errors and carry on.
/// </summary>
public sealed record CgroupStats
{
    /// <summary>Total CPU time (v2 cpu.stat usage_usec × 1000; v1 cpuacct.usage).</summary>
    public ulong? CpuUsageNs { get; internal set; }

    public ulong? CpuUserNs { get; internal set; }

    public ulong? CpuSystemNs { get; internal set; }

    /// <summary>Time throttled by the CFS quota (v2 throttled_usec × 1000; v1 cpu.stat throttled_time).</summary>
    public ulong? CpuThrottledNs { get; internal set; }

    /// <summary>Enforcement periods elapsed (nr_periods).</summary>
    public ulong? CpuPeriods { get; internal set; }

    /// <summary>Periods in which the group was throttled (nr_throttled).</summary>
    public ulong? CpuThrottledPeriods { get; internal set; }

    /// <summary>v2 memory.current; v1 memory.usage_in_bytes.</summary>
    public ulong? MemoryCurrentBytes { get; internal set; }

    /// <summary>v2 memory.peak; v1 memory.max_usage_in_bytes.</summary>
    public ulong? MemoryPeakBytes { get; internal set; }

    /// <summary>Usage minus inactive file cache, clamped at 0 (cAdvisor's working set).</summary>
    public ulong? MemoryWorkingSetBytes { get; internal set; }

    /// <summary>v2 memory.swap.current; v1 memory.stat total_swap.</summary>
    public ulong? SwapCurrentBytes { get; internal set; }

    /// <summary>Processes killed by the OOM killer in this cgroup (v2 memory.events oom_kill; v1 memory.oom_control oom_kill).</summary>
    public ulong? OomKills { get; internal set; }

    /// <summary>pids.current (tasks = threads).</summary>
    public ulong? TasksCurrent { get; internal set; }

    /// <summary>
    /// Bytes read, summed over devices (v2 io.stat rbytes; v1 blkio.throttle.io_service_bytes_recursive).
    /// On v1 the kernel (5.x and later) counts only IO to devices that carry a blkio throttle rule
    /// somewhere; with no rule the file has no device line and these four fields are null, not 0.
    /// </summary>
    public ulong? IoReadBytes { get; internal set; }

    public ulong? IoWriteBytes { get; internal set; }

    public ulong? IoReadOps { get; internal set; }

    public ulong? IoWriteOps { get; internal set; }

    public PressureTotals? CpuPressure { get; internal set; }

    public PressureTotals? MemoryPressure { get; internal set; }

    public PressureTotals? IoPressure { get; internal set; }

    /// <summary>Effective memory limit; null when unlimited.</summary>
    public ulong? MemoryMaxBytes { get; internal set; }

    /// <summary>Effective CFS quota per period in µs; null when unlimited.</summary>
    public ulong? CpuQuotaUs { get; internal set; }

    public ulong? CpuPeriodUs { get; internal set; }

    /// <summary>Effective pids.max; null when unlimited.</summary>
    public ulong? TasksMax { get; internal set; }

    /// <summary>Files that should have been readable but were not (vanished cgroup, EIO).</summary>
    public int ReadErrors { get; internal set; }
}
