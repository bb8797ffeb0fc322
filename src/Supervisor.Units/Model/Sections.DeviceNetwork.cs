using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Supervisor.Units.Model;

/// <summary>[Resources] keys for the devices and network peers a unit's cgroup may reach (systemd.resource-control(5)).</summary>
public sealed partial record ResourcesSection
{
    /// <summary>DevicePolicy; null: not set, which is systemd's "auto".</summary>
    public DevicePolicy? DevicePolicy { get; init; }
    public ValueList<DeviceAllowEntry> DeviceAllow { get; init; } = ValueList<DeviceAllowEntry>.Empty;
    public ValueList<IpAddressPrefix> IPAddressAllow { get; init; } = ValueList<IpAddressPrefix>.Empty;
    public ValueList<IpAddressPrefix> IPAddressDeny { get; init; } = ValueList<IpAddressPrefix>.Empty;
    public ValueList<SocketBindItem> SocketBindAllow { get; init; } = ValueList<SocketBindItem>.Empty;
    public ValueList<SocketBindItem> SocketBindDeny { get; init; } = ValueList<SocketBindItem>.Empty;
}

/// <summary>systemd's DevicePolicy=: auto (no restriction unless DeviceAllow lists devices), closed (standard pseudo devices and DeviceAllow), strict (DeviceAllow only).</summary>
public enum DevicePolicy
{
    Auto,
    Closed,
    Strict,
}

/// <summary>One DeviceAllow entry as written: a /dev path or a "char-NAME"/"block-NAME" class, and its access letters in "rwm" order.</summary>
public sealed record DeviceAllowEntry(string Device, string Access)
{
    public override string ToString() => $"{Device} {Access}";
}

/// <summary>An IPAddressAllow/IPAddressDeny prefix, host bits cleared (systemd masks them too).</summary>
public sealed record IpAddressPrefix(IPAddress Address, int PrefixLength)
{
    public bool IsV6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Address}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The address family a SocketBind rule names ("ipv4", "ipv6"), or either.</summary>
public enum BindFamily
{
    Any,
    IPv4,
    IPv6,
}

/// <summary>The transport protocol a SocketBind rule names ("tcp", "udp"), or either.</summary>
public enum BindProtocol
{
    Any,
    Tcp,
    Udp,
}

/// <summary>One SocketBindAllow/SocketBindDeny rule, "[ipv4|ipv6:][tcp|udp:]PORTS"; <see cref="PortCount"/> 0 is any port.</summary>
public sealed record SocketBindItem(BindFamily Family, BindProtocol Protocol, ushort PortMin, int PortCount)
{
    public override string ToString()
    {
        var parts = new List<string>();
        if (Family != BindFamily.Any) parts.Add(Family == BindFamily.IPv4 ? "ipv4" : "ipv6");
        if (Protocol != BindProtocol.Any) parts.Add(Protocol == BindProtocol.Tcp ? "tcp" : "udp");
        parts.Add(PortCount == 0 ? "any"
            : PortCount == 1 ? PortMin.ToString(CultureInfo.InvariantCulture)
            : $"{PortMin.ToString(CultureInfo.InvariantCulture)}-{(PortMin + PortCount - 1).ToString(CultureInfo.InvariantCulture)}");
        return string.Join(':', parts);
    }
}

/// <summary>What a unit's [Sandbox] implies for its cgroup, as systemd's unit_patch_contexts().</summary>
public static class ResourceImplications
{
    /// <summary>
    /// The [Resources] the unit's cgroup really gets: with PrivateDevices (declared or implied) and
    /// no DevicePolicy other than "auto", the device policy is "closed": a private /dev is backed
    /// by the devices controller, so a node the service finds or makes elsewhere opens nothing
    /// beyond the standard pseudo devices and DeviceAllow. Slices are taken as declared.
    /// </summary>
    public static ResourcesSection EffectiveResources(this UnitDefinition unit) =>
        unit.Kind == UnitKind.Service && unit.Sandbox.WithImplications().PrivateDevices && unit.Resources.DevicePolicy is null or DevicePolicy.Auto
            ? unit.Resources with { DevicePolicy = DevicePolicy.Closed }
            : unit.Resources;
}
