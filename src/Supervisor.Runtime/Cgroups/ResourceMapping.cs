using Supervisor.Cgroups;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Cgroups;

/// <summary>The unit model's [Resources] as the cgroup drivers take them (the drivers know nothing of unit files).</summary>
public static class ResourceMapping
{
    public static ResourceLimits Map(ResourcesSection r) => new()
    {
        MemoryMax = Size(r.MemoryMax),
        MemoryHigh = Size(r.MemoryHigh),
        MemoryLow = Size(r.MemoryLow),
        MemoryMin = Size(r.MemoryMin),
        MemorySwapMax = Size(r.MemorySwapMax),
        CPUQuotaPercent = r.CPUQuota?.Value,
        CPUQuotaPeriod = r.CPUQuota is null ? null : r.CPUQuotaPeriodSec.ToTimeSpan(),
        CPUWeight = r.CPUWeight,
        AllowedCPUs = r.AllowedCPUs is null ? null : CpuSet.Parse(r.AllowedCPUs),
        AllowedMemoryNodes = r.AllowedMemoryNodes is null ? null : CpuSet.Parse(r.AllowedMemoryNodes),
        TasksMax = r.TasksMax is { } t ? (t.IsInfinity ? Limit.Infinity : Limit.Of(t.Value)) : null,
        IOWeight = r.IOWeight,
        IOReadBandwidthMax = Devices(r.IOReadBandwidthMax),
        IOWriteBandwidthMax = Devices(r.IOWriteBandwidthMax),
        IOReadIOPSMax = Devices(r.IOReadIOPSMax),
        IOWriteIOPSMax = Devices(r.IOWriteIOPSMax),
    };

    private static Limit? Size(Units.Values.Size? s) => s is { } v ? (v.IsInfinity ? Limit.Infinity : Limit.Of(v.Bytes)) : null;

    private static IReadOnlyDictionary<string, ulong>? Devices(ValueList<DeviceLimit> list) =>
        list.Count == 0 ? null : list.ToDictionary(d => d.Device, d => d.Value, StringComparer.Ordinal);
}
