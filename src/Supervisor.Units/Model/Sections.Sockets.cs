using System.Globalization;
using System.Net;

namespace Supervisor.Units.Model;

/// <summary>What a Listen* entry binds: systemd's ListenStream/ListenDatagram/ListenSequentialPacket.</summary>
public enum SocketKind { Stream, Datagram, SequentialPacket }

/// <summary>systemd's BindIPv6Only=: what a "[::]:port" socket also accepts.</summary>
public enum BindIPv6Only { Default, Both, Ipv6Only }

/// <summary>
/// One listening address, parsed as systemd's socket_address_parse reads it: a port alone
/// ("80", every address, IPv6 and IPv4), "addr:port" ("127.0.0.1:80", "[::1]:80"), an absolute
/// unix socket path ("/run/x.sock") or an abstract unix name ("@name").
/// </summary>
public sealed record ListenAddress(SocketKind Kind, string Text, IPAddress? Ip, int Port, string? UnixPath, bool Abstract)
{
    public bool IsUnix => UnixPath is not null;

    /// <summary>A unix socket that is a file (not abstract): it has an owner, a mode and parent directories.</summary>
    public bool IsUnixFile => UnixPath is not null && !Abstract;

    public string KeyName => Kind switch
    {
        SocketKind.Stream => "ListenStream",
        SocketKind.Datagram => "ListenDatagram",
        _ => "ListenSequentialPacket",
    };

    /// <summary>The sun_path bytes (abstract: starting with NUL) at most 108 bytes, as the kernel's sockaddr_un holds.</summary>
    public const int MaxUnixPathBytes = 107;

    /// <summary>Parses one entry; the error says what was expected (the key table adds unit, key and location).</summary>
    public static ListenAddress Parse(SocketKind kind, string text)
    {
        var s = text.Trim();
        if (s.Length == 0) throw new FormatException("an empty address");
        if (s[0] == '/')
        {
            if (s.Split('/').Contains("..")) throw new FormatException($"unix socket path \"{s}\" contains \"..\"");
            if (System.Text.Encoding.UTF8.GetByteCount(s) > MaxUnixPathBytes)
                throw new FormatException($"unix socket path \"{s}\" is longer than {MaxUnixPathBytes} bytes (sockaddr_un)");
            return new ListenAddress(kind, s, null, 0, s, false);
        }
        if (s[0] == '@')
        {
            if (s.Length == 1 || System.Text.Encoding.UTF8.GetByteCount(s) > MaxUnixPathBytes)
                throw new FormatException($"abstract socket name \"{s}\" must have 1 to {MaxUnixPathBytes - 1} bytes after '@'");
            return new ListenAddress(kind, s, null, 0, s[1..], true);
        }
        if (char.IsAsciiLetter(s[0]) && !s.Contains(':') && !IPAddress.TryParse(s, out _))
            throw new FormatException($"\"{s}\" is a relative path; a unix socket path must be absolute (start with '/'), an abstract name starts with '@'");
        if (s.All(char.IsAsciiDigit))
            return new ListenAddress(kind, s, null, ParsePort(s, s), null, false);
        string host, port;
        if (s[0] == '[')
        {
            int close = s.IndexOf(']');
            if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':') throw new FormatException($"\"{s}\" is not \"[IPv6]:port\"");
            host = s[1..close];
            port = s[(close + 2)..];
        }
        else
        {
            int colon = s.LastIndexOf(':');
            if (colon <= 0 || s.IndexOf(':') != colon) throw new FormatException($"\"{s}\" is not a port, \"address:port\", \"[IPv6]:port\", an absolute path or \"@name\"");
            host = s[..colon];
            port = s[(colon + 1)..];
        }
        if (!IPAddress.TryParse(host, out var ip) || (s[0] == '[') != (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
            throw new FormatException($"\"{host}\" in \"{s}\" is not an IP address (a host name is not resolved, as in systemd)");
        return new ListenAddress(kind, s, ip, ParsePort(port, s), null, false);
    }

    private static int ParsePort(string port, string whole)
    {
        if (port.Length == 0 || port.Length > 6 || !port.All(char.IsAsciiDigit)) throw new FormatException($"\"{port}\" in \"{whole}\" is not a port number");
        int p = int.Parse(port, CultureInfo.InvariantCulture);
        if (p is < 1 or > 65535) throw new FormatException($"port {p} in \"{whole}\" is out of range 1–65535");
        return p;
    }
}

/// <summary>[Socket]: what a socket unit (NAME.socket.toml) listens on, and for which service. Defaults are systemd's.</summary>
public sealed partial record SocketSection
{
    /// <summary>systemd's default Backlog= (SOMAXCONN since Linux 5.4).</summary>
    public const int DefaultBacklog = 4096;

    public ValueList<ListenAddress> ListenStream { get; init; } = ValueList<ListenAddress>.Empty;
    public ValueList<ListenAddress> ListenDatagram { get; init; } = ValueList<ListenAddress>.Empty;
    public ValueList<ListenAddress> ListenSequentialPacket { get; init; } = ValueList<ListenAddress>.Empty;
    public string? FileDescriptorName { get; init; }
    public string? SocketUser { get; init; }
    public string? SocketGroup { get; init; }
    public uint SocketMode { get; init; } = 0x1B6;    // 0666
    public uint DirectoryMode { get; init; } = 0x1ED; // 0755
    public int Backlog { get; init; } = DefaultBacklog;
    public bool ReusePort { get; init; }
    public BindIPv6Only BindIPv6Only { get; init; }
    public bool FreeBind { get; init; }
    public bool PassCredentials { get; init; }
    public bool PassSecurity { get; init; }
    public bool RemoveOnStop { get; init; }
    public bool Accept { get; init; }
    /// <summary>systemd's default MaxConnections=: connection instances running at once (Accept=yes).</summary>
    public const int DefaultMaxConnections = 64;
    public int MaxConnections { get; init; } = DefaultMaxConnections;
    /// <summary>Connection instances at once from one source address (Accept=yes); null: MaxConnections.</summary>
    public int? MaxConnectionsPerSource { get; init; }
    public int EffectiveMaxConnectionsPerSource => MaxConnectionsPerSource ?? MaxConnections;
    /// <summary>The service this socket activates; null: the service of the same name.</summary>
    public string? Service { get; init; }

    /// <summary>Every address, in the order systemd passes them: ListenStream, ListenDatagram, ListenSequentialPacket, each in file order.</summary>
    public IEnumerable<ListenAddress> Addresses => ListenStream.Concat(ListenDatagram).Concat(ListenSequentialPacket);
}

/// <summary>[Service] Sockets=: the socket units whose descriptors the service gets.</summary>
public sealed partial record ServiceSection
{
    public ValueList<string> Sockets { get; init; } = ValueList<string>.Empty;

    /// <summary>FileDescriptorStoreMax=: how many descriptors the service may store with sd_notify FDSTORE=1 (0: none, systemd's default).</summary>
    public int FileDescriptorStoreMax { get; init; }
}

/// <summary>Which sockets belong to which service, as systemd decides it: one place, read by the loader, the dependency graph and the launcher.</summary>
public static class SocketUnits
{
    public const string Suffix = ".socket";

    /// <summary>
    /// The service a socket unit activates: its Service=, else the service of the same name
    /// ("dbus.socket" → "dbus"); with Accept=yes the template of the same name ("sshd.socket" →
    /// "sshd@"), whose instance per connection is <see cref="ConnectionInstance"/>.
    /// </summary>
    public static string ServiceOf(UnitDefinition socket) =>
        socket.Socket.Accept ? socket.Name[..^Suffix.Length] + Templates.UnitNameParts.TemplateMarker
        : socket.Socket.Service ?? socket.Name[..^Suffix.Length];

    /// <summary>
    /// systemd's name of a connection's instance (socket.c, instance_from_socket): "N-LOCAL:PORT-REMOTE:PORT"
    /// for IP (IPv4-mapped IPv6 written as IPv4), "N-PID-UID" for a unix peer, "N-unknown" when the
    /// peer's credentials are not known; N counts the socket unit's accepted connections from 0.
    /// </summary>
    public static string ConnectionInstance(UnitDefinition socket, string instance) => ServiceOf(socket) + instance;

    /// <summary>
    /// The socket units whose descriptors <paramref name="service"/> gets, in order: its Sockets=
    /// entries, then every other socket unit that names it (by Service= or by sharing its name).
    /// </summary>
    public static IReadOnlyList<string> SocketsOf(UnitDefinition service, IEnumerable<UnitDefinition> all)
    {
        var result = new List<string>(service.Service.Sockets);
        foreach (var u in all.Where(u => u.Kind == UnitKind.Socket).OrderBy(u => u.Name, StringComparer.Ordinal))
            if (ServiceOf(u) == service.Name && !result.Contains(u.Name)) result.Add(u.Name);
        return result;
    }

    /// <summary>systemd's fdname_is_valid: 1–255 printable ASCII characters, no ':' (the separator of LISTEN_FDNAMES).</summary>
    public static bool IsValidFdName(string s) => s.Length is > 0 and <= 255 && !s.Any(c => c is < ' ' or > '~' or ':');

    /// <summary>The name LISTEN_FDNAMES gives a socket unit's descriptors: FileDescriptorName, else the unit's name (systemd's default).</summary>
    public static string FdName(UnitDefinition socket) => socket.Socket.FileDescriptorName ?? socket.Name;
}
