using Supervisor.Cgroups;
using Supervisor.Units.Model;
using CgroupDevicePolicy = Supervisor.Cgroups.DevicePolicy;
using UnitDevicePolicy = Supervisor.Units.Model.DevicePolicy;

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
        DevicePolicy = r.DevicePolicy switch
        {
            null => null,
            UnitDevicePolicy.Closed => CgroupDevicePolicy.Closed,
            UnitDevicePolicy.Strict => CgroupDevicePolicy.Strict,
            _ => CgroupDevicePolicy.Auto,
        },
        DeviceAllow = r.DeviceAllow.Count == 0 ? null : [.. r.DeviceAllow.Select(d => new Supervisor.Cgroups.DeviceAllowEntry(d.Device, Access(d.Access)))],
        IPAddressAllow = Prefixes(r.IPAddressAllow),
        IPAddressDeny = Prefixes(r.IPAddressDeny),
        SocketBindAllow = Binds(r.SocketBindAllow),
        SocketBindDeny = Binds(r.SocketBindDeny),
    };

    /// <summary>
    /// A unit's limits with the address lists of the slices above it combined into its own: its
    /// cgroup's packet filter checks them all, as systemd's does (slices get no filter of their own).
    /// </summary>
    public static ResourceLimits Map(ResourcesSection unit, IEnumerable<ResourcesSection?> slices) =>
        Map(unit).WithSliceAddressLists(slices.Where(s => s is not null).Select(s => Map(s!)));

    private static Limit? Size(Units.Values.Size? s) => s is { } v ? (v.IsInfinity ? Limit.Infinity : Limit.Of(v.Bytes)) : null;

    private static IReadOnlyDictionary<string, ulong>? Devices(ValueList<DeviceLimit> list) =>
        list.Count == 0 ? null : list.ToDictionary(d => d.Device, d => d.Value, StringComparer.Ordinal);

    private static DeviceAccess Access(string rwm) =>
        (rwm.Contains('r') ? DeviceAccess.Read : 0) | (rwm.Contains('w') ? DeviceAccess.Write : 0) | (rwm.Contains('m') ? DeviceAccess.Mknod : 0);

    private static IReadOnlyList<IpPrefix>? Prefixes(ValueList<IpAddressPrefix> list) =>
        list.Count == 0 ? null : [.. list.Select(p => new IpPrefix(p.Address, p.PrefixLength))];

    private static IReadOnlyList<SocketBindRule>? Binds(ValueList<SocketBindItem> list) =>
        list.Count == 0 ? null : [.. list.Select(b => new SocketBindRule(
            b.Family switch { BindFamily.IPv4 => SocketBindFamily.IPv4, BindFamily.IPv6 => SocketBindFamily.IPv6, _ => SocketBindFamily.Any },
            b.Protocol switch { BindProtocol.Tcp => SocketBindProtocol.Tcp, BindProtocol.Udp => SocketBindProtocol.Udp, _ => SocketBindProtocol.Any },
            b.PortMin, b.PortCount))];
}
