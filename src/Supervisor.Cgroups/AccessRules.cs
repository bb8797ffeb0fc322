using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Supervisor.Cgroups;

/// <summary>systemd's DevicePolicy=: which device nodes a unit may open and create.</summary>
public enum DevicePolicy
{
    /// <summary>No restriction, unless DeviceAllow lists devices: then as <see cref="Closed"/>.</summary>
    Auto,

    /// <summary>The standard pseudo devices (null, zero, full, random, urandom, tty, ptmx, pts) and DeviceAllow.</summary>
    Closed,

    /// <summary>Only what DeviceAllow lists.</summary>
    Strict,
}

/// <summary>What a DeviceAllow entry grants: read, write, mknod (v1 devices.allow "rwm").</summary>
[Flags]
public enum DeviceAccess
{
    None = 0,
    Read = 1,
    Write = 2,
    Mknod = 4,
    All = Read | Write | Mknod,
}

/// <summary>One DeviceAllow entry: a /dev path, or a driver class "char-NAME" / "block-NAME" (NAME may be a glob or a major number).</summary>
public sealed record DeviceAllowEntry(string Device, DeviceAccess Access)
{
    public override string ToString() => $"{Device} {DeviceAccessText.Of(Access)}";
}

internal static class DeviceAccessText
{
    public static string Of(DeviceAccess a) =>
        (a.HasFlag(DeviceAccess.Read) ? "r" : "") + (a.HasFlag(DeviceAccess.Write) ? "w" : "") + (a.HasFlag(DeviceAccess.Mknod) ? "m" : "");

    public static DeviceAccess Parse(string text)
    {
        var a = DeviceAccess.None;
        foreach (var c in text)
        {
            a |= c switch { 'r' => DeviceAccess.Read, 'w' => DeviceAccess.Write, 'm' => DeviceAccess.Mknod, _ => DeviceAccess.None };
        }
        return a;
    }
}

/// <summary>An IPv4 or IPv6 prefix of IPAddressAllow/IPAddressDeny, its host bits cleared.</summary>
public sealed record IpPrefix
{
    public IpPrefix(IPAddress address, int prefixLength)
    {
        int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"'{address}' is neither IPv4 nor IPv6", nameof(address));
        }
        if (prefixLength < 0 || prefixLength > bits)
        {
            throw new ArgumentException($"prefix length {prefixLength} is outside 0..{bits}", nameof(prefixLength));
        }
        var bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefixLength - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        Address = new IPAddress(bytes);
        PrefixLength = prefixLength;
    }

    /// <summary>The network address (host bits zero).</summary>
    public IPAddress Address { get; }

    public int PrefixLength { get; }

    public bool IsV6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Address}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";

    public bool Equals(IpPrefix? other) => other is not null && PrefixLength == other.PrefixLength && Address.Equals(other.Address);

    public override int GetHashCode() => HashCode.Combine(Address, PrefixLength);
}

/// <summary>Which address family a SocketBindAllow/Deny rule is about (systemd: "ipv4", "ipv6", or either).</summary>
public enum SocketBindFamily
{
    Any,
    IPv4,
    IPv6,
}

/// <summary>Which transport protocol a SocketBindAllow/Deny rule is about (systemd: "tcp", "udp", or either).</summary>
public enum SocketBindProtocol
{
    Any,
    Tcp,
    Udp,
}

/// <summary>
/// One SocketBindAllow/SocketBindDeny rule, "[ipv4|ipv6:][tcp|udp:]PORTS" with PORTS "any", N or
/// N-M. <see cref="PortCount"/> 0 means any port (also the kernel-chosen port 0).
/// </summary>
public sealed record SocketBindRule(SocketBindFamily Family, SocketBindProtocol Protocol, ushort PortMin, int PortCount)
{
    public static SocketBindRule Any { get; } = new(SocketBindFamily.Any, SocketBindProtocol.Any, 0, 0);

    public int PortMax => PortMin + PortCount - 1;

    public override string ToString()
    {
        var parts = new List<string>();
        if (Family != SocketBindFamily.Any)
        {
            parts.Add(Family == SocketBindFamily.IPv4 ? "ipv4" : "ipv6");
        }
        if (Protocol != SocketBindProtocol.Any)
        {
            parts.Add(Protocol == SocketBindProtocol.Tcp ? "tcp" : "udp");
        }
        parts.Add(PortCount == 0 ? "any"
            : PortCount == 1 ? PortMin.ToString(CultureInfo.InvariantCulture)
            : $"{PortMin.ToString(CultureInfo.InvariantCulture)}-{PortMax.ToString(CultureInfo.InvariantCulture)}");
        return string.Join(':', parts);
    }
}
