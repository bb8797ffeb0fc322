using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    public const string SocketSection = "Socket";

    private static KeySpec<T> K<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<SocketSection, T> get, Func<SocketSection, T, SocketSection> set,
        string @default, string doc, MergeRule merge = MergeRule.Replace) =>
        new(type, u => get(u.Socket), (u, v) => u with { Socket = set(u.Socket, v) })
        { Section = SocketSection, Name = name, OnChange = onChange, Default = @default, Description = doc, Merge = merge };

    /// <summary>
    /// [Socket] keys of a socket unit, and [Service] Sockets. The sockets are bound when the socket
    /// unit starts, so a change to how they are bound takes a restart of the socket unit (systemd
    /// too binds only at start).
    /// </summary>
    private static IEnumerable<KeySpec> SocketKeys() =>
    [
        S("Sockets", Restart, V.ListOf(SocketUnitName, "array of socket unit names (\"NAME.socket\")"), s => s.Sockets, (s, v) => s with { Sockets = v }, "[]",
            "socket units whose listening descriptors the main process gets (fd 3 on, with LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES); the socket unit of the same name belongs to the service without it; " +
            "each socket is started before the service (implicit Requires and After; systemd adds Wants for Sockets=, so here a socket that cannot bind keeps its service from starting)", MergeRule.List),
        S("FileDescriptorStoreMax", NextUse, V.Int(0, Limits.MaxFileDescriptorStore), s => s.FileDescriptorStoreMax, (s, v) => s with { FileDescriptorStoreMax = v }, "0",
            "how many descriptors the service may keep in the supervisor with sd_notify FDSTORE=1 (FDNAME= names them, FDSTOREREMOVE=1 drops a name, FDPOLL=0 keeps one that hangs up); " +
            "they are passed back to the next main process after the socket units' (LISTEN_FDS, LISTEN_FDNAMES), across restarts and a killed supervisor, and closed when the service stops; " +
            "0 refuses every store with a log line, as systemd; at most 8192 (the socket units' descriptors and the store together)"),
        K("ListenStream", Restart, Addresses(SocketKind.Stream), k => k.ListenStream, (k, v) => k with { ListenStream = v }, "[]",
            "stream sockets to listen on: a port (\"80\": IPv6 and IPv4), \"addr:port\", \"[::1]:port\", an absolute unix socket path, or \"@name\" (abstract)", MergeRule.List),
        K("ListenDatagram", Restart, Addresses(SocketKind.Datagram), k => k.ListenDatagram, (k, v) => k with { ListenDatagram = v }, "[]",
            "datagram sockets (UDP, unix datagram), written as ListenStream's", MergeRule.List),
        K("ListenSequentialPacket", Restart, Addresses(SocketKind.SequentialPacket), k => k.ListenSequentialPacket, (k, v) => k with { ListenSequentialPacket = v }, "[]",
            "unix sequential-packet sockets (a path or \"@name\")", MergeRule.List),
        K("FileDescriptorName", Restart, new Nullable<string>(FdNameValue), k => k.FileDescriptorName, (k, v) => k with { FileDescriptorName = v }, "the unit's name",
            "the name the service sees in LISTEN_FDNAMES for each of this unit's descriptors"),
        K("SocketUser", Restart, new Nullable<string>(V.String), k => k.SocketUser, (k, v) => k with { SocketUser = v }, "root",
            "owner of the unix socket files (a user name or number)"),
        K("SocketGroup", Restart, new Nullable<string>(V.String), k => k.SocketGroup, (k, v) => k with { SocketGroup = v }, "root",
            "group of the unix socket files (a group name or number)"),
        K("SocketMode", Restart, Mode, k => k.SocketMode, (k, v) => k with { SocketMode = v }, "\"0666\"", "access mode of the unix socket files, in octal"),
        K("DirectoryMode", Restart, Mode, k => k.DirectoryMode, (k, v) => k with { DirectoryMode = v }, "\"0755\"", "mode of the parent directories created for a unix socket file, in octal"),
        K("Backlog", Restart, V.Int(1, int.MaxValue), k => k.Backlog, (k, v) => k with { Backlog = v }, "4096", "listen(2) backlog of the stream and sequential-packet sockets (the kernel caps it at net.core.somaxconn)"),
        K("ReusePort", Restart, SystemdBool, k => k.ReusePort, (k, v) => k with { ReusePort = v }, "false", "SO_REUSEPORT on the IP sockets"),
        K("BindIPv6Only", Restart, V.Enum(("default", BindIPv6Only.Default), ("both", BindIPv6Only.Both), ("ipv6-only", BindIPv6Only.Ipv6Only)),
            k => k.BindIPv6Only, (k, v) => k with { BindIPv6Only = v }, "\"default\"",
            "whether an IPv6 socket on :: also takes IPv4 (\"both\") or not (\"ipv6-only\"); \"default\" keeps the kernel's net.ipv6.bindv6only"),
        K("FreeBind", Restart, SystemdBool, k => k.FreeBind, (k, v) => k with { FreeBind = v }, "false", "bind to an IP address this host does not have (yet) (IP_FREEBIND)"),
        K("PassCredentials", Restart, SystemdBool, k => k.PassCredentials, (k, v) => k with { PassCredentials = v }, "false", "SO_PASSCRED on unix sockets: the receiver gets the sender's pid, uid and gid"),
        K("PassSecurity", Restart, SystemdBool, k => k.PassSecurity, (k, v) => k with { PassSecurity = v }, "false", "SO_PASSSEC on unix sockets: the receiver gets the sender's security label"),
        K("RemoveOnStop", Restart, SystemdBool, k => k.RemoveOnStop, (k, v) => k with { RemoveOnStop = v }, "false", "remove the unix socket files when the socket unit stops (else they stay, as in systemd)"),
        K("Accept", Restart, SystemdBool, k => k.Accept, (k, v) => k with { Accept = v }, "false",
            "false: the listening sockets are passed to one service; true: the supervisor accepts each connection and starts a transient instance of the template NAME@.toml " +
            "(\"NAME@N-LOCAL:PORT-REMOTE:PORT\", unix: \"NAME@N-PID-UID\") with the connection on stdin/stdout (StandardInput \"socket\") or as fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=connection), " +
            "REMOTE_ADDR and REMOTE_PORT set; the instance runs in its own cgroup with the template's sandbox and limits, is not restarted, and is gone once it exits; " +
            "not with ListenDatagram nor Service (as systemd)"),
        K("MaxConnections", NextUse, V.Int(1, Limits.MaxConnections), k => k.MaxConnections, (k, v) => k with { MaxConnections = v }, "64",
            "Accept=yes: connection instances running at once; a connection beyond it is accepted and closed at once (logged once per burst)"),
        K("MaxConnectionsPerSource", NextUse, new NullableStruct<int>(V.Int(1, Limits.MaxConnections)), k => k.MaxConnectionsPerSource, (k, v) => k with { MaxConnectionsPerSource = v }, "MaxConnections",
            "Accept=yes: connection instances running at once from one IP address (unix peers are not counted, as systemd); beyond it a connection is accepted and closed at once"),
        K("Service", Restart, new Nullable<string>(V.UnitName), k => k.Service, (k, v) => k with { Service = v }, "the service of the same name",
            "the service this socket starts on the first connection and passes its descriptors to (\"NAME\" or \"NAME.service\"); not with Accept=yes, whose service is the template NAME@"),
    ];

    private static IValueType<ValueList<ListenAddress>> Addresses(SocketKind kind) => new ListenAddresses(kind);

    private sealed class ListenAddresses(SocketKind kind) : IValueType<ValueList<ListenAddress>>
    {
        public string Describe => kind == SocketKind.SequentialPacket ? "array of unix socket paths or \"@name\"s" : "array of addresses (\"port\", \"addr:port\", \"/path\", \"@name\")";

        public ValueList<ListenAddress> Parse(TomlValue value)
        {
            var items = V.AsArray(value, "an array of addresses, e.g. [\"8080\", \"/run/x.sock\"]");
            var result = new List<ListenAddress>();
            foreach (var item in items)
            {
                var text = V.AsString(item, "an address in a string, e.g. \"127.0.0.1:8080\" or \"/run/x.sock\"");
                ListenAddress address;
                try
                {
                    address = ListenAddress.Parse(kind, text);
                }
                catch (FormatException e)
                {
                    throw new UnitValueException($"{e.Message}");
                }
                if (kind == SocketKind.SequentialPacket && !address.IsUnix)
                    throw new UnitValueException($"\"{text}\": sequential-packet sockets are unix sockets only (a path or \"@name\")");
                result.Add(address);
            }
            return new ValueList<ListenAddress>(result);
        }

        public object ToPlain(ValueList<ListenAddress> value) => Plain.List(value.Select(a => (object)a.Text));
    }

    /// <summary>A socket unit's name as Sockets= names it: "NAME.socket" (the suffix is part of the name).</summary>
    private static IValueType<string> SocketUnitName => new SocketName();

    private sealed class SocketName : IValueType<string>
    {
        public string Describe => "socket unit name";

        public string Parse(TomlValue value)
        {
            var s = V.AsString(value, "a socket unit name like \"web.socket\"");
            if (!s.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal) || s.Length == SocketUnits.Suffix.Length || !UnitNames.IsValid(s))
                throw new UnitValueException($"\"{s}\" is not a socket unit name: it must end in \".socket\" ({UnitNames.Rule})");
            return s;
        }

        public object ToPlain(string value) => value;
    }

    /// <summary>systemd's fdname_is_valid: 1–255 printable ASCII characters, no ':' (the separator of LISTEN_FDNAMES).</summary>
    private static IValueType<string> FdNameValue => new FdName();

    private sealed class FdName : IValueType<string>
    {
        public string Describe => "string";

        public string Parse(TomlValue value)
        {
            var s = V.AsString(value, "a name in a string");
            if (!SocketUnits.IsValidFdName(s))
                throw new UnitValueException($"\"{s}\" is not a descriptor name: 1 to 255 printable ASCII characters without ':'");
            return s;
        }

        public object ToPlain(string value) => value;
    }

    private static IValueType<uint> Mode => new OctalMode();

    private sealed class OctalMode : IValueType<uint>
    {
        public string Describe => "octal string (e.g. \"0660\")";

        public uint Parse(TomlValue value)
        {
            var s = V.AsString(value, "an octal mode in a string, like \"0660\"");
            if (s.Length is 0 or > 5 || !s.All(c => c is >= '0' and <= '7'))
                throw V.Expected("an octal mode in a string, like \"0660\" (digits 0–7)", value);
            var mode = Convert.ToUInt32(s, 8);
            if (mode > 0xFFF) throw new UnitValueException($"\"{s}\" is above 07777");
            return mode;
        }

        public object ToPlain(uint value) => "0" + Convert.ToString(value, 8).PadLeft(3, '0');
    }
}
