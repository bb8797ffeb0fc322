using System.Collections.Frozen;
using System.Globalization;

namespace Supervisor.Sandbox.Capabilities;

/// <summary>
/// Capability names and numbers as in linux/capability.h, CAP_CHOWN=0 … CAP_CHECKPOINT_RESTORE=40
/// (every capability a 6.x kernel knows).
/// </summary>
public static class CapabilityTable
{
    private static readonly string[] Names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    private static readonly FrozenDictionary<string, int> ByName =
        Names.Select((n, i) => (n, i)).ToFrozenDictionary(x => x.n, x => x.i, StringComparer.OrdinalIgnoreCase);

    /// <summary>The highest capability number in this table (CAP_LAST_CAP of the headers it was taken from).</summary>
    public static int LastKnown => Names.Length - 1;

    public static IReadOnlyList<string> All => Names;

    /// <summary>Parses "CAP_NET_ADMIN", "net_admin", "Net_Admin"…; false if unknown.</summary>
    public static bool TryParse(string name, out int number)
    {
        var n = name.Trim();
        if (!n.StartsWith("CAP_", StringComparison.OrdinalIgnoreCase))
            n = "CAP_" + n;
        return ByName.TryGetValue(n, out number);
    }

    public static int Parse(string name) =>
        TryParse(name, out int n) ? n : throw new UnknownCapabilityException($"unknown capability '{name}'");

    public static string NameOf(int number) =>
        number >= 0 && number < Names.Length ? Names[number] : $"capability {number}";

    /// <summary>The bit mask of a set of capability names.</summary>
    public static ulong Mask(IEnumerable<string> names) => names.Aggregate(0UL, (m, n) => m | (1UL << Parse(n)));

    public static IEnumerable<string> NamesOf(ulong mask)
    {
        for (int i = 0; i < 64; i++)
            if ((mask & (1UL << i)) != 0)
                yield return NameOf(i);
    }

    /// <summary>The host kernel's last capability (/proc/sys/kernel/cap_last_cap).</summary>
    public static int HostLastCap(string path = "/proc/sys/kernel/cap_last_cap") =>
        int.Parse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Every capability the host kernel knows, as a mask.</summary>
    public static ulong HostMask(int lastCap) => lastCap >= 63 ? ulong.MaxValue : (1UL << (lastCap + 1)) - 1;

    /// <summary>Throws when the host kernel does not know this capability.</summary>
    public static void EnsureHostSupports(int number, int hostLastCap)
    {
        if (number > hostLastCap)
            throw new UnknownCapabilityException(
                $"{NameOf(number)} (number {number}) is not known to the host kernel, whose last capability is {hostLastCap} ({NameOf(hostLastCap)})");
    }
}
