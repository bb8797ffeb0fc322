using System.Collections.Frozen;
using System.Globalization;

namespace Supervisor.Sandbox.Capabilities;

/// <summary>
/// Capability names and numbers as in linux/capability.h, CAP_CHOWN=0 … CAP_CHECKPOINT_RESTORE=40
/// (every capability a 6.x kernel knows).
/// </summary>
public static class CapabilityTable
{
    /// <summary>The names come from the unit model's table, so the parser and the compiler agree by construction.</summary>
    private static readonly IReadOnlyList<string> Names = Units.Values.Capabilities.AllNames;

    private static readonly FrozenDictionary<string, int> ByName =
        Names.Select((n, i) => (n, i)).ToFrozenDictionary(x => x.n, x => x.i, StringComparer.OrdinalIgnoreCase);

    /// <summary>The highest capability number in this table (CAP_LAST_CAP of the headers it was taken from).</summary>
    public static int LastKnown => Names.Count - 1;

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
        number >= 0 && number < Names.Count ? Names[number] : $"capability {number}";

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
