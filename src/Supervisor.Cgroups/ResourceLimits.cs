namespace Supervisor.Cgroups;

/// <summary>
/// A count or size that may be "infinity". A nullable <see cref="Limit"/> distinguishes
/// "not set" (null: leave the kernel default alone) from "set to infinity" (write "max").
/// </summary>
public readonly record struct Limit
{
    private Limit(ulong value, bool infinite)
    {
        Value = value;
        IsInfinity = infinite;
    }

    public static Limit Infinity { get; } = new(0, true);

    public static Limit Of(ulong value) => new(value, false);

    public bool IsInfinity { get; }

    /// <summary>The finite value; 0 when <see cref="IsInfinity"/>.</summary>
    public ulong Value { get; }

    public override string ToString() => IsInfinity ? "infinity" : Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// The [Resources] keys of a unit or slice, typed. Null means "not declared". This library does not
/// know the unit-file model; the caller maps its model onto this record.
/// </summary>
public sealed record ResourceLimits
{
    public static ResourceLimits None { get; } = new();

    /// <summary>Hard memory cap in bytes (v2 memory.max, v1 memory.limit_in_bytes).</summary>
    public Limit? MemoryMax { get; init; }

    /// <summary>Throttle point in bytes (v2 memory.high; not available on v1).</summary>
    public Limit? MemoryHigh { get; init; }

    /// <summary>Best-effort protection in bytes (v2 memory.low, v1 memory.soft_limit_in_bytes).</summary>
    public Limit? MemoryLow { get; init; }

    /// <summary>Hard protection in bytes (v2 memory.min; not available on v1).</summary>
    public Limit? MemoryMin { get; init; }

    /// <summary>Swap cap in bytes (v2 memory.swap.max, v1 memory.memsw = MemoryMax + this).</summary>
    public Limit? MemorySwapMax { get; init; }

    /// <summary>
    /// Percent of one CPU; 200 means two CPUs. Null: not declared (left alone);
    /// <see cref="double.PositiveInfinity"/>: explicitly no quota (cpu.max "max", cfs_quota_us -1).
    /// </summary>
    public double? CPUQuotaPercent { get; init; }

    /// <summary>CFS period; null means the default 100 ms.</summary>
    public TimeSpan? CPUQuotaPeriod { get; init; }

    /// <summary>1..10000, default 100 (v2 cpu.weight, v1 cpu.shares = w*1024/100).</summary>
    public int? CPUWeight { get; init; }

    /// <summary>cpuset.cpus. <see cref="CpuSet.Empty"/> means "not restricted" (v2 inherits, v1 copies the parent's).</summary>
    public CpuSet? AllowedCPUs { get; init; }

    /// <summary>cpuset.mems.</summary>
    public CpuSet? AllowedMemoryNodes { get; init; }

    /// <summary>pids.max.</summary>
    public Limit? TasksMax { get; init; }

    /// <summary>1..10000, default 100 (v2 io.weight, v1 blkio.weight = w*500/100 clamped to 10..1000).</summary>
    public int? IOWeight { get; init; }

    /// <summary>
    /// Device path (e.g. /dev/vda, a whole disk) to bytes per second. An empty map clears every rule.
    /// Note: record equality compares these maps by reference; Apply compares the files themselves.
    /// </summary>
    public IReadOnlyDictionary<string, ulong>? IOReadBandwidthMax { get; init; }

    public IReadOnlyDictionary<string, ulong>? IOWriteBandwidthMax { get; init; }

    /// <summary>Device path to operations per second.</summary>
    public IReadOnlyDictionary<string, ulong>? IOReadIOPSMax { get; init; }

    public IReadOnlyDictionary<string, ulong>? IOWriteIOPSMax { get; init; }

    /// <summary>DevicePolicy; null: not declared (no device rules at all unless DeviceAllow is declared).</summary>
    public DevicePolicy? DevicePolicy { get; init; }

    /// <summary>DeviceAllow entries; null or empty: none declared.</summary>
    public IReadOnlyList<DeviceAllowEntry>? DeviceAllow { get; init; }

    /// <summary>
    /// IPAddressAllow: packets from or to these prefixes pass even when IPAddressDeny matches them.
    /// A unit's list already includes its slices' lists (systemd combines them; slices get no program).
    /// </summary>
    public IReadOnlyList<IpPrefix>? IPAddressAllow { get; init; }

    /// <summary>IPAddressDeny: packets from or to these prefixes are dropped unless IPAddressAllow matches.</summary>
    public IReadOnlyList<IpPrefix>? IPAddressDeny { get; init; }

    /// <summary>SocketBindAllow: bind() matching a rule is allowed even when SocketBindDeny matches it.</summary>
    public IReadOnlyList<SocketBindRule>? SocketBindAllow { get; init; }

    /// <summary>SocketBindDeny: bind() matching a rule fails with EPERM unless SocketBindAllow matches it.</summary>
    public IReadOnlyList<SocketBindRule>? SocketBindDeny { get; init; }

    internal bool HasMemory => MemoryMax is not null || MemoryHigh is not null || MemoryLow is not null
        || MemoryMin is not null || MemorySwapMax is not null;

    internal bool HasCpu => CPUQuotaPercent is not null || CPUQuotaPeriod is not null || CPUWeight is not null;

    internal bool HasCpuset => AllowedCPUs is not null || AllowedMemoryNodes is not null;

    /// <summary>
    /// A unit's limits with the IPAddressAllow/IPAddressDeny lists of the slices above it added to
    /// its own, as systemd combines them: the program on the unit's cgroup checks them all, and an
    /// allow anywhere on the path wins over a deny anywhere (a unit can open what its slice denies).
    /// </summary>
    public ResourceLimits WithSliceAddressLists(IEnumerable<ResourceLimits> slices)
    {
        var levels = slices.Where(s => s.HasFirewall).ToList();
        if (levels.Count == 0)
        {
            return this;
        }
        IReadOnlyList<IpPrefix> Combined(Func<ResourceLimits, IReadOnlyList<IpPrefix>?> list) =>
            [.. levels.Append(this).SelectMany(l => list(l) ?? []).Distinct()];
        return this with { IPAddressAllow = Combined(l => l.IPAddressAllow), IPAddressDeny = Combined(l => l.IPAddressDeny) };
    }

    /// <summary>Any device rule declared (an explicit DevicePolicy=auto counts: it resets a previous policy).</summary>
    internal bool HasDevices => DevicePolicy is not null || DeviceAllow is { Count: > 0 };

    internal bool HasFirewall => IPAddressAllow is not null || IPAddressDeny is not null;

    internal bool HasSocketBind => SocketBindAllow is not null || SocketBindDeny is not null;

    internal bool HasIo => IOWeight is not null || IOReadBandwidthMax is not null || IOWriteBandwidthMax is not null
        || IOReadIOPSMax is not null || IOWriteIOPSMax is not null;
}

/// <summary>The [Resources] key names, as written in unit files and in every message.</summary>
public static class ResourceKeys
{
    public const string MemoryMax = nameof(MemoryMax);
    public const string MemoryHigh = nameof(MemoryHigh);
    public const string MemoryLow = nameof(MemoryLow);
    public const string MemoryMin = nameof(MemoryMin);
    public const string MemorySwapMax = nameof(MemorySwapMax);
    public const string CPUQuota = nameof(CPUQuota);
    public const string CPUQuotaPeriodSec = nameof(CPUQuotaPeriodSec);
    public const string CPUWeight = nameof(CPUWeight);
    public const string AllowedCPUs = nameof(AllowedCPUs);
    public const string AllowedMemoryNodes = nameof(AllowedMemoryNodes);
    public const string TasksMax = nameof(TasksMax);
    public const string IOWeight = nameof(IOWeight);
    public const string IOReadBandwidthMax = nameof(IOReadBandwidthMax);
    public const string IOWriteBandwidthMax = nameof(IOWriteBandwidthMax);
    public const string IOReadIOPSMax = nameof(IOReadIOPSMax);
    public const string IOWriteIOPSMax = nameof(IOWriteIOPSMax);
    public const string DevicePolicy = nameof(DevicePolicy);
    public const string DeviceAllow = nameof(DeviceAllow);
    public const string IPAddressAllow = nameof(IPAddressAllow);
    public const string IPAddressDeny = nameof(IPAddressDeny);
    public const string SocketBindAllow = nameof(SocketBindAllow);
    public const string SocketBindDeny = nameof(SocketBindDeny);
}
