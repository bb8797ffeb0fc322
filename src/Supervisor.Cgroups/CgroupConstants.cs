namespace Supervisor.Cgroups;

/// <summary>Every kernel range, default and bound this library uses, in one place.</summary>
public static class CgroupConstants
{
    /// <summary>Memory limits are kept in pages: the kernel rounds a written byte count down to a page.</summary>
    public static readonly long PageSize = Environment.SystemPageSize;

    /// <summary>v1 reads "unlimited" back as PAGE_COUNTER_MAX pages: LONG_MAX rounded down to a page.</summary>
    public static long V1Unlimited => long.MaxValue / PageSize * PageSize;

    public const int CpuWeightMin = 1;
    public const int CpuWeightMax = 10000;
    public const int CpuWeightDefault = 100;

    /// <summary>v1 cpu.shares bounds (kernel MIN_SHARES / MAX_SHARES), used by systemd's conversion.</summary>
    public const long CpuSharesMin = 2;
    public const long CpuSharesMax = 262144;
    public const long CpuSharesDefault = 1024;

    public const int IoWeightMin = 1;
    public const int IoWeightMax = 10000;
    public const int IoWeightDefault = 100;

    /// <summary>v1 blkio.weight bounds (CFQ/BFQ).</summary>
    public const int BlkioWeightMin = 10;
    public const int BlkioWeightMax = 1000;

    /// <summary>CFS bandwidth: the kernel rejects periods outside [1 ms, 1 s] and quotas below 1 ms.</summary>
    public static readonly TimeSpan CpuQuotaPeriodDefault = TimeSpan.FromMilliseconds(100);
    public const long CpuPeriodMinUs = 1000;
    public const long CpuPeriodMaxUs = 1_000_000;
    public const long CpuQuotaMinUs = 1000;

    /// <summary>Kill-all: how long freeze/kill/thaw rounds go on before giving up on a cgroup that will not empty.</summary>
    public static readonly TimeSpan KillAllTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Pause between kill-all rounds while killed tasks finish exiting.</summary>
    public static readonly TimeSpan KillAllRoundDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>How long the freezer may report FREEZING before we kill anyway.</summary>
    public static readonly TimeSpan FreezeSettleTimeout = TimeSpan.FromSeconds(2);

    /// <summary>rmdir of a just-emptied cgroup can see EBUSY while the last tasks finish exiting.</summary>
    public const int RmdirBusyRetries = 50;
    public static readonly TimeSpan RmdirBusyDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>v1 has no "empty" notification we can use from a subtree, so waiters poll cgroup.procs.</summary>
    public static readonly TimeSpan V1EmptyPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The v1 OOM eventfd fires when the OOM starts; oom_kill is bumped a moment later.</summary>
    public static readonly TimeSpan V1OomCounterSettle = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan V1OomCounterPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>Largest cgroup file read for accounting (a blkio file with many devices stays far below).</summary>
    public const int MaxStatFileBytes = 1 << 20;

    /// <summary>
    /// Most device rules DevicePolicy/DeviceAllow may resolve to (a class like "char-*tty*" becomes
    /// one rule per matching major). Each is a few instructions of one program, whose forward jumps
    /// must stay within the 16-bit offset of a BPF instruction.
    /// </summary>
    public const int MaxDeviceRules = 2048;

    /// <summary>Nesting bound for slice names (a-b-c-….slice), far above what anyone declares.</summary>
    public const int MaxSliceDepth = 16;
}
