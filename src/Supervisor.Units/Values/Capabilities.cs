namespace Supervisor.Units.Values;

/// <summary>
/// Capability names and numbers from linux/capability.h (kernel 6.x: CAP_CHOWN = 0 …
/// CAP_CHECKPOINT_RESTORE = 40). Whether the running kernel knows a given capability is a
/// host fact checked when the unit starts (cap_last_cap), not here.
/// </summary>
public static class Capabilities
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

    public static int Last => Names.Length - 1;

    public static IReadOnlyList<string> AllNames => Names;

    /// <summary>CAP_NET_BIND_SERVICE, NET_BIND_SERVICE, cap_net_bind_service → 10.</summary>
    public static int Parse(string text)
    {
        if (!TryParse(text, out var n))
            throw new UnitValueException($"unknown capability \"{text}\"", Suggest.Hint(Normalize(text), Names));
        return n;
    }

    public static bool TryParse(string text, out int number)
    {
        number = Array.IndexOf(Names, Normalize(text));
        return number >= 0;
    }

    public static string Name(int number) => number >= 0 && number < Names.Length ? Names[number] : $"cap_{number}";

    private static string Normalize(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        return s.StartsWith("CAP_", StringComparison.Ordinal) ? s : "CAP_" + s;
    }
}
