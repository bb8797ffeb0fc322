using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using static Supervisor.Units.Keys.ChangeEffect;
using V = Supervisor.Units.Keys.ValueTypes;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Resources] keys that control which devices and network peers the unit's cgroup may reach
    /// (systemd.resource-control(5)). systemd rewrites them into a running unit's cgroup on
    /// daemon-reload, and so do we: v1 through the devices controller's files, v2 by attaching new
    /// BPF programs before the old ones are detached.
    /// </summary>
    private static IEnumerable<KeySpec> DeviceNetworkKeys() =>
    [
        R("DevicePolicy", ApplyLive, new NullableStruct<DevicePolicy>(V.Enum(("auto", DevicePolicy.Auto), ("closed", DevicePolicy.Closed), ("strict", DevicePolicy.Strict))),
            r => r.DevicePolicy, (r, v) => r with { DevicePolicy = v }, "\"auto\"",
            "which device nodes the unit may open or create: \"auto\" (no restriction, unless DeviceAllow lists devices: then as \"closed\"), \"closed\" (/dev/null, zero, full, random, urandom, tty, ptmx, pts and DeviceAllow), \"strict\" (DeviceAllow only); v1: the devices controller (devices.deny, devices.allow), v2: a BPF device program on the unit's cgroup"),
        R("DeviceAllow", ApplyLive, DeviceAllowList, r => r.DeviceAllow, (r, v) => r with { DeviceAllow = v }, "[]",
            "devices the unit may use, \"DEVICE [rwm]\" (access defaults to rwm): a /dev path (one that does not exist is ignored with a warning, as systemd does) or a driver class \"char-NAME\" / \"block-NAME\" from /proc/devices (e.g. char-pts, block-loop; NAME may be a glob); same files or program as DevicePolicy",
            MergeRule.List),
        R("IPAddressAllow", ApplyLive, AddressList, r => r.IPAddressAllow, (r, v) => r with { IPAddressAllow = v }, "[]",
            "peers the unit may exchange IP packets with even when IPAddressDeny matches them: addresses, prefixes (\"10.0.0.0/8\") and any, localhost, link-local, multicast; combined with the lists of the slices above; cgroup v2 only (ingress and egress BPF packet filters): on v1 the unit is bad-setting",
            MergeRule.List),
        R("IPAddressDeny", ApplyLive, AddressList, r => r.IPAddressDeny, (r, v) => r with { IPAddressDeny = v }, "[]",
            "peers whose IP packets are dropped unless IPAddressAllow matches them (e.g. [\"any\"] with IPAddressAllow = [\"localhost\"]); sending to one fails with EPERM; cgroup v2 only (as IPAddressAllow): on v1 the unit is bad-setting",
            MergeRule.List),
        R("SocketBindAllow", ApplyLive, BindList, r => r.SocketBindAllow, (r, v) => r with { SocketBindAllow = v }, "[]",
            "bind() calls allowed even when SocketBindDeny matches them: \"[ipv4|ipv6:][tcp|udp:]PORTS\" with PORTS a port, a range \"N-M\" or \"any\"; cgroup v2 only (BPF bind4/bind6 programs): on v1 the unit is bad-setting",
            MergeRule.List),
        R("SocketBindDeny", ApplyLive, BindList, r => r.SocketBindDeny, (r, v) => r with { SocketBindDeny = v }, "[]",
            "bind() calls that fail with EPERM unless SocketBindAllow matches them (e.g. [\"any\"] with SocketBindAllow = [\"tcp:8080\"]); cgroup v2 only (as SocketBindAllow): on v1 the unit is bad-setting",
            MergeRule.List),
    ];

    // Properties, not fields: All = Build() in the other part of this class may run before this
    // part's static fields are initialised (the order of partial declarations is not defined).
    private static IValueType<ValueList<DeviceAllowEntry>> DeviceAllowList => new DeviceNetworkValue<DeviceAllowEntry>(
        "array of \"DEVICE [rwm]\" (a /dev path, or char-NAME / block-NAME)", ParseDeviceAllow, splitWords: false, e => e.ToString());

    private static IValueType<ValueList<IpAddressPrefix>> AddressList => new DeviceNetworkValue<IpAddressPrefix>(
        "array of IP addresses or prefixes, or any, localhost, link-local, multicast (a string is split at spaces)", ParseAddress, splitWords: true, p => p.ToString());

    private static IValueType<ValueList<SocketBindItem>> BindList => new DeviceNetworkValue<SocketBindItem>(
        "array of \"[ipv4|ipv6:][tcp|udp:]PORTS\" or \"any\" (a string is split at spaces)", ParseBind, splitWords: true, b => b.ToString());

    /// <summary>
    /// A list key of this group: an array of strings, or (for the address and bind lists) one
    /// string, as systemd writes them ("IPAddressDeny=any"); with <c>splitWords</c> each string may
    /// hold several space-separated items. One item may stand for several values ("localhost").
    /// </summary>
    private sealed class DeviceNetworkValue<T>(string describe, Func<string, IEnumerable<T>> parseItem, bool splitWords, Func<T, string> show) : IValueType<ValueList<T>>
    {
        public string Describe => describe;

        public ValueList<T> Parse(TomlValue value)
        {
            var strings = splitWords && value is TomlString one ? [one]
                : V.AsArray(value, splitWords ? "an array of strings or one string" : "an array of strings like [\"/dev/null rw\"]");
            var items = new List<T>();
            foreach (var s in strings)
            {
                var text = V.AsString(s, "a string");
                var words = splitWords ? text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries) : [text.Trim()];
                if (words.Length == 0 || words[0].Length == 0)
                    throw new UnitValueException("empty entry; to clear the list, assign an empty array");
                foreach (var w in words) items.AddRange(parseItem(w));
                if (items.Count > Limits.MaxListEntries)
                    throw new UnitValueException($"more than {Limits.MaxListEntries} entries");
            }
            return new ValueList<T>(items);
        }

        public object ToPlain(ValueList<T> value) => Plain.List(value.Select(v => (object)show(v)));
    }

    private static string[] DevicePrefixes => ["/dev/", "/run/systemd/inaccessible/", "char-", "block-"];

    private static IEnumerable<DeviceAllowEntry> ParseDeviceAllow(string text)
    {
        var words = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 2)
            throw new UnitValueException($"expected \"DEVICE [rwm]\", got \"{text}\"");
        var device = words[0];
        var access = words.Length == 2 ? words[1] : "rwm";
        if (access.Any(c => c is not ('r' or 'w' or 'm')))
            throw new UnitValueException($"'{device}': expected access letters from \"rwm\", got \"{access}\"");
        CheckDevice(device);
        var normal = (access.Contains('r') ? "r" : "") + (access.Contains('w') ? "w" : "") + (access.Contains('m') ? "m" : "");
        return [new DeviceAllowEntry(device, normal)];
    }

    private static void CheckDevice(string device)
    {
        if (!DevicePrefixes.Any(p => device.StartsWith(p, StringComparison.Ordinal) && device.Length > p.Length))
        {
            var dash = device.IndexOf('-', StringComparison.Ordinal);
            var hint = device.StartsWith('/') ? null
                : dash > 0 ? Suggest.Nearest(device[..dash], ["char", "block"]) is { } c ? $"did you mean '{c}{device[dash..]}'?" : null
                : $"did you mean '/dev/{device}'?";
            throw new UnitValueException($"expected a device path under /dev or a class \"char-NAME\" / \"block-NAME\", got \"{device}\"", hint);
        }
        if (device.Split('/').Contains("..") || device.Contains('\0', StringComparison.Ordinal))
            throw new UnitValueException($"device \"{device}\" contains \"..\" or a NUL character; write the path it means");
        if (V.Bytes(device) > Limits.MaxPathBytes)
            throw new UnitValueException($"the device path is {V.Bytes(device)} bytes long; a path is at most {Limits.MaxPathBytes} bytes (PATH_MAX)");
    }

    /// <summary>systemd's symbolic names (ip-address-access.c): each stands for an IPv4 and an IPv6 prefix.</summary>
    private static (string Name, string V4, string V6)[] SymbolicAddresses =>
    [
        ("any", "0.0.0.0/0", "::/0"),
        ("localhost", "127.0.0.0/8", "::1/128"),
        ("link-local", "169.254.0.0/16", "fe80::/64"),
        ("multicast", "224.0.0.0/4", "ff00::/8"),
    ];

    private static IEnumerable<IpAddressPrefix> ParseAddress(string item)
    {
        foreach (var (name, v4, v6) in SymbolicAddresses)
            if (item == name) return [Prefix(v4), Prefix(v6)];
        return [Prefix(item)];
    }

    private static IpAddressPrefix Prefix(string item)
    {
        var slash = item.IndexOf('/', StringComparison.Ordinal);
        var text = slash < 0 ? item : item[..slash];
        // inet_pton's forms only: four dotted decimals, or IPv6 without a zone ("1.2" and "fe80::1%eth0" are refused).
        bool v4 = text.Count(c => c == '.') == 3 && text.All(c => char.IsAsciiDigit(c) || c == '.');
        bool v6 = text.Contains(':', StringComparison.Ordinal) && !text.Contains('%', StringComparison.Ordinal);
        if (!(v4 || v6) || !IPAddress.TryParse(text, out var address))
            throw new UnitValueException($"expected an IP address, a prefix like \"10.0.0.0/8\" or one of {string.Join(", ", SymbolicAddresses.Select(s => s.Name))}, got \"{item}\"",
                Suggest.Hint(item, SymbolicAddresses.Select(s => s.Name)));
        int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int length = bits;
        if (slash >= 0 && (!int.TryParse(item[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > bits))
            throw new UnitValueException($"\"{item}\": expected a prefix length from 0 to {bits} after \"/\"");
        var bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] &= (byte)(0xFF << (8 - Math.Clamp(length - i * 8, 0, 8)));
        return new IpAddressPrefix(new IPAddress(bytes), length);
    }

    /// <summary>systemd's parse_socket_bind_item: optional family, optional protocol, then "any" or a port or range, separated by ':'.</summary>
    private static IEnumerable<SocketBindItem> ParseBind(string item)
    {
        const string expected = "\"[ipv4|ipv6:][tcp|udp:]PORTS\" with PORTS a port 1-65535, a range \"N-M\" or \"any\"";
        var tokens = item.Split(':');
        var family = BindFamily.Any;
        var protocol = BindProtocol.Any;
        int i = 0;
        if (i < tokens.Length && tokens[i] is "ipv4" or "ipv6") family = tokens[i++] == "ipv4" ? BindFamily.IPv4 : BindFamily.IPv6;
        if (i < tokens.Length && tokens[i] is "tcp" or "udp") protocol = tokens[i++] == "tcp" ? BindProtocol.Tcp : BindProtocol.Udp;
        if (i == tokens.Length && i > 0) return [new SocketBindItem(family, protocol, 0, 0)]; // "ipv6", "ipv4:udp": any port
        if (i != tokens.Length - 1)
            throw new UnitValueException($"expected {expected}, got \"{item}\"", Suggest.Hint(tokens[i], ["ipv4", "ipv6", "tcp", "udp", "any"]));
        var ports = tokens[i];
        if (ports == "any") return [new SocketBindItem(family, protocol, 0, 0)];
        var range = ports.Split('-');
        if (range.Length > 2 || !range.All(p => ushort.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0))
            throw new UnitValueException($"expected {expected}, got \"{item}\"", Suggest.Hint(ports, ["ipv4", "ipv6", "tcp", "udp", "any"]));
        var min = ushort.Parse(range[0], CultureInfo.InvariantCulture);
        var max = ushort.Parse(range[^1], CultureInfo.InvariantCulture);
        if (min > max)
            throw new UnitValueException($"\"{item}\": the port range {min}-{max} runs backwards");
        return [new SocketBindItem(family, protocol, min, max - min + 1)];
    }
}
