using System.Globalization;
using System.IO.Enumeration;
using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>A device node's type and number: 'c' or 'b', major, minor.</summary>
public readonly record struct DeviceNode(char Type, uint Major, uint Minor);

/// <summary>Resolves a device path to its node, or null when nothing exists at the path (it throws for a path that is not a device).</summary>
public delegate DeviceNode? DeviceNodeResolver(string path);

/// <summary>
/// One allowed device as the kernel matches it (v1 devices.allow syntax "c 1:3 rwm"): type 'c' or
/// 'b', a major and minor, either of which may be any (null).
/// </summary>
internal sealed record DeviceRule(char Type, uint? Major, uint? Minor, DeviceAccess Access)
{
    public string Node => $"{Type} {Num(Major)}:{Num(Minor)}";

    public override string ToString() => $"{Node} {DeviceAccessText.Of(Access)}";

    private static string Num(uint? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "*";
}

/// <summary>
/// The devices a unit may use, resolved from DevicePolicy and DeviceAllow with systemd's meaning:
/// "closed", and "auto" with a DeviceAllow list, add the standard pseudo devices; "strict" only
/// what is listed. A /dev path that does not exist, or a class that matches no driver, is left out
/// with a warning (systemd ignores it too); <see cref="Ignored"/> says which and why.
/// </summary>
internal sealed record DeviceRuleSet(IReadOnlyList<DeviceRule> Rules, IReadOnlyList<string> Ignored)
{
    /// <summary>systemd's list for DevicePolicy=closed (bpf_devices_allow_list_static), pts read-write only.</summary>
    public static readonly IReadOnlyList<DeviceAllowEntry> Standard =
    [
        .. ((string[])["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"])
            .Select(p => new DeviceAllowEntry(p, DeviceAccess.All)),
        new DeviceAllowEntry("char-pts", DeviceAccess.Read | DeviceAccess.Write),
    ];

    /// <summary>Null when the unit declares no device restriction (no DevicePolicy, or "auto" without DeviceAllow).</summary>
    public static DeviceRuleSet? Resolve(ResourceLimits limits, DriverContext ctx)
    {
        var policy = limits.DevicePolicy ?? DevicePolicy.Auto;
        var allow = limits.DeviceAllow ?? [];
        if (policy == DevicePolicy.Auto && allow.Count == 0)
        {
            return null;
        }
        var entries = policy == DevicePolicy.Strict ? allow : [.. Standard, .. allow];
        var rules = new List<DeviceRule>();
        var ignored = new List<string>();
        var procDevices = new Lazy<string?>(() => CgroupFs.TryReadText(ctx.ProcDevicesFile, out _));
        foreach (var entry in entries.Where(e => e.Access != DeviceAccess.None))
        {
            var why = Add(entry, ctx, procDevices, rules);
            if (why is not null && !Standard.Contains(entry))
            {
                ignored.Add($"'{entry.Device}' {why}; ignored");
            }
        }
        return new DeviceRuleSet(Merge(rules), ignored);
    }

    /// <summary>Adds the rules for one entry; returns why it added none, or null.</summary>
    private static string? Add(DeviceAllowEntry entry, DriverContext ctx, Lazy<string?> procDevices, List<DeviceRule> into)
    {
        var device = entry.Device;
        if (device.StartsWith("char-", StringComparison.Ordinal) || device.StartsWith("block-", StringComparison.Ordinal))
        {
            var type = device[0] == 'c' ? 'c' : 'b';
            var name = device[(device.IndexOf('-', StringComparison.Ordinal) + 1)..];
            return AddClass(type, name, entry.Access, procDevices.Value, into);
        }
        DeviceNode? node;
        try
        {
            node = ParseNumbered(device) ?? ctx.ResolveDeviceNode(device);
        }
        catch (CgroupException e)
        {
            return e.Message;
        }
        if (node is not { } n)
        {
            return "does not exist";
        }
        into.Add(new DeviceRule(n.Type, n.Major, n.Minor, entry.Access));
        return null;
    }

    /// <summary>"/dev/char/MAJ:MIN" and "/dev/block/MAJ:MIN" name the numbers themselves (systemd reads them without stat).</summary>
    private static DeviceNode? ParseNumbered(string path)
    {
        foreach (var (prefix, type) in (ReadOnlySpan<(string, char)>)[("/dev/char/", 'c'), ("/dev/block/", 'b')])
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal))
            {
                var parts = path[prefix.Length..].Split(':');
                if (parts.Length == 2 && uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
                    && uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
                {
                    return new DeviceNode(type, major, minor);
                }
            }
        }
        return null;
    }

    /// <summary>"char-pts", "block-loop", "char-*", "char-136": every major whose driver name in /proc/devices matches.</summary>
    private static string? AddClass(char type, string name, DeviceAccess access, string? procDevices, List<DeviceRule> into)
    {
        if (name == "*")
        {
            into.Add(new DeviceRule(type, null, null, access));
            return null;
        }
        if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            into.Add(new DeviceRule(type, number, null, access));
            return null;
        }
        if (procDevices is null)
        {
            return "cannot be resolved: /proc/devices is not readable";
        }
        int before = into.Count;
        foreach (var (major, driver) in Drivers(procDevices, type))
        {
            if (FileSystemName.MatchesSimpleExpression(name, driver, ignoreCase: false))
            {
                into.Add(new DeviceRule(type, major, null, access));
            }
        }
        return into.Count > before ? null : $"matches no {(type == 'c' ? "character" : "block")} device driver in /proc/devices";
    }

    /// <summary>The "MAJOR name" lines of one section of /proc/devices.</summary>
    internal static IEnumerable<(uint Major, string Name)> Drivers(string procDevices, char type)
    {
        bool inSection = false;
        foreach (var raw in procDevices.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.EndsWith(':'))
            {
                inSection = line == (type == 'c' ? "Character devices:" : "Block devices:");
                continue;
            }
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (inSection && space > 0 && uint.TryParse(line[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var major) && major > 0)
            {
                yield return (major, line[(space + 1)..].Trim());
            }
        }
    }

    /// <summary>One rule per node, access bits combined, in the order first declared (the kernel's devices.list merges the same way).</summary>
    private static List<DeviceRule> Merge(List<DeviceRule> rules)
    {
        var merged = new List<DeviceRule>();
        foreach (var r in rules)
        {
            int i = merged.FindIndex(m => m.Type == r.Type && m.Major == r.Major && m.Minor == r.Minor);
            if (i < 0)
            {
                merged.Add(r);
            }
            else
            {
                merged[i] = merged[i] with { Access = merged[i].Access | r.Access };
            }
        }
        return merged;
    }

    /// <summary>statx(2) on the path: a character or block device node, or null when nothing is there.</summary>
    public static DeviceNode? StatDeviceNode(string path)
    {
        const ushort S_IFCHR = 0x2000;
        if (Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_TYPE, out var st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is Errno.ENOENT or Errno.ENOTDIR ? null : throw new CgroupException($"stat failed: {Errno.Name(errno)}");
        }
        var type = st.Mode & Libc.S_IFMT;
        return type == S_IFCHR ? new DeviceNode('c', st.RdevMajor, st.RdevMinor)
            : type == Libc.S_IFBLK ? new DeviceNode('b', st.RdevMajor, st.RdevMinor)
            : throw new CgroupException("is not a device node");
    }
}
