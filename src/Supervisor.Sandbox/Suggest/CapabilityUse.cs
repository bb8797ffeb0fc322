using Supervisor.Units.Values;
using Caps = Supervisor.Units.Values.Capabilities;
using Arg = Supervisor.Sandbox.Seccomp.LearnedArgument;

namespace Supervisor.Sandbox.Suggest;

/// <summary>A capability and why it stays: the evidence that the service may need it, or why the calls cannot tell.</summary>
public sealed record CapabilityVerdict(int Capability, bool MayBeNeeded, string Why)
{
    public string Name => Caps.Name(Capability);
}

/// <summary>
/// The capability table of <c>security --suggest</c>: for each capability, the calls (and, where
/// learn mode records it, the argument) that can need it. A capability is "never used" only when
/// none of those calls was made (<see cref="LearnedUse.MayHaveCalled(string)"/>: a call allowed
/// unreported while learning counts as made). Conservative by construction: a call that might
/// need the capability with some argument counts whatever its argument, unless the argument was
/// recorded. Capabilities that ordinary file calls need for some paths (DAC_*, FOWNER, FSETID,
/// the MAC ones, SYS_RESOURCE) cannot be judged from calls and are always kept.
/// </summary>
public static class CapabilityUse
{
    private delegate string? Rule(LearnedUse use);

    /// <summary>Every capability's verdict for what was learned.</summary>
    public static IReadOnlyList<CapabilityVerdict> Judge(LearnedUse use)
    {
        var verdicts = new List<CapabilityVerdict>();
        for (int cap = 0; cap <= Caps.Last; cap++)
        {
            var name = Caps.Name(cap);
            if (Paths.TryGetValue(name, out var why)) verdicts.Add(new(cap, true, why));
            else if (Unchecked.TryGetValue(name, out var never)) verdicts.Add(new(cap, false, never));
            else
            {
                var evidence = Table[name](use);
                verdicts.Add(new(cap, evidence is not null, evidence ?? $"none of {string.Join(", ", CallsOf(name))} was called"));
            }
        }
        return verdicts;
    }

    /// <summary>The calls a capability's rule looks at (for the "never used" line).</summary>
    public static IReadOnlyList<string> CallsOf(string capability) => Calls.TryGetValue(capability, out var c) ? c : [];

    private const string FileCalls = "ordinary file calls (open, stat, rename, chmod, utimensat …) can need it for some paths, which learn mode does not record: kept";

    /// <summary>Capabilities whose use depends on paths, not on calls: always kept when the unit has them.</summary>
    private static readonly Dictionary<string, string> Paths = new(StringComparer.Ordinal)
    {
        ["CAP_DAC_OVERRIDE"] = FileCalls,
        ["CAP_DAC_READ_SEARCH"] = FileCalls,
        ["CAP_FOWNER"] = FileCalls,
        ["CAP_FSETID"] = FileCalls,
        ["CAP_MAC_OVERRIDE"] = "needed by writes to LSM policy files, which learn mode does not see: kept",
        ["CAP_MAC_ADMIN"] = "needed by writes to LSM policy files, which learn mode does not see: kept",
        ["CAP_SYS_RESOURCE"] = "prlimit64 is in @default (never reported), and writes beyond quotas and reserved space need it: kept",
    };

    /// <summary>Capabilities no call fails without.</summary>
    private static readonly Dictionary<string, string> Unchecked = new(StringComparer.Ordinal)
    {
        ["CAP_NET_BROADCAST"] = "the kernel checks it nowhere (capabilities(7): unused)",
        ["CAP_BLOCK_SUSPEND"] = "without it epoll's EPOLLWAKEUP is silently ignored; no call fails",
    };

    private static readonly Dictionary<string, string[]> Calls = new(StringComparer.Ordinal)
    {
        ["CAP_CHOWN"] = [.. SyscallTable.Expand("@chown")],
        ["CAP_KILL"] = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"],
        ["CAP_SETGID"] = ["setgid", "setgid32", "setregid", "setregid32", "setresgid", "setresgid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32"],
        ["CAP_SETUID"] = ["setuid", "setuid32", "setreuid", "setreuid32", "setresuid", "setresuid32", "setfsuid", "setfsuid32"],
        ["CAP_SETPCAP"] = ["capset", "prctl (PR_CAPBSET_DROP, PR_SET_SECUREBITS)"],
        ["CAP_LINUX_IMMUTABLE"] = ["ioctl (a request outside the harmless list)"],
        ["CAP_NET_BIND_SERVICE"] = ["bind"],
        ["CAP_NET_ADMIN"] = ["socket (AF_NETLINK)", "setsockopt (an option outside the harmless list)", "ioctl (a request outside the harmless list)"],
        ["CAP_NET_RAW"] = ["socket (AF_PACKET, or SOCK_RAW/SOCK_PACKET)", "setsockopt (an option outside the harmless list)"],
        ["CAP_IPC_LOCK"] = ["mlock", "mlock2", "mlockall", "shmctl"],
        ["CAP_IPC_OWNER"] = ["msgctl", "msgrcv", "msgsnd", "semctl", "semop", "semtimedop", "shmat", "shmctl", "shmdt", "ipc"],
        ["CAP_SYS_MODULE"] = [.. SyscallTable.Expand("@module")],
        ["CAP_SYS_RAWIO"] = [.. SyscallTable.Expand("@raw-io"), "ioctl (a request outside the harmless list)"],
        ["CAP_SYS_CHROOT"] = ["chroot", "setns"],
        ["CAP_SYS_PTRACE"] = ["ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"],
        ["CAP_SYS_PACCT"] = ["acct"],
        ["CAP_SYS_ADMIN"] = [.. SyscallTable.Expand("@mount"), "swapon", "swapoff", "sethostname", "setdomainname", "quotactl", "quotactl_fd", "bpf",
            "fanotify_init", "perf_event_open", "open_by_handle_at", "lookup_dcookie", "keyctl", "ioprio_set", "syslog", "setns",
            "clone/clone3/unshare (namespace flags)", "ioctl (a request outside the harmless list)"],
        ["CAP_SYS_BOOT"] = [.. SyscallTable.Expand("@reboot")],
        ["CAP_SYS_NICE"] = ["nice", "setpriority", "sched_setscheduler", "sched_setparam", "sched_setattr", "sched_setaffinity", "ioprio_set", "mbind", "set_mempolicy", "migrate_pages", "move_pages"],
        ["CAP_SYS_TIME"] = [.. SyscallTable.Expand("@clock")],
        ["CAP_SYS_TTY_CONFIG"] = ["vhangup", "ioctl (a request outside the harmless list)"],
        ["CAP_MKNOD"] = ["mknod", "mknodat"],
        ["CAP_LEASE"] = ["fcntl (F_SETLEASE)", "fcntl64"],
        ["CAP_AUDIT_WRITE"] = ["socket (AF_NETLINK, NETLINK_AUDIT)"],
        ["CAP_AUDIT_CONTROL"] = ["socket (AF_NETLINK, NETLINK_AUDIT)"],
        ["CAP_AUDIT_READ"] = ["socket (AF_NETLINK, NETLINK_AUDIT)"],
        ["CAP_SETFCAP"] = ["setxattr", "lsetxattr", "fsetxattr", "setxattrat"],
        ["CAP_SYSLOG"] = ["syslog"],
        ["CAP_WAKE_ALARM"] = ["timerfd_create (an _ALARM clock)", "timer_create (an _ALARM clock)"],
        ["CAP_PERFMON"] = ["perf_event_open", "bpf"],
        ["CAP_BPF"] = ["bpf"],
        ["CAP_CHECKPOINT_RESTORE"] = ["clone3 (set_tid)", "prctl (PR_SET_MM)"],
    };

    private static readonly Dictionary<string, Rule> Table = new(StringComparer.Ordinal)
    {
        ["CAP_CHOWN"] = u => Any(u, Calls["CAP_CHOWN"]),
        ["CAP_KILL"] = u => Any(u, Calls["CAP_KILL"]),
        ["CAP_SETGID"] = u => Any(u, Calls["CAP_SETGID"]),
        ["CAP_SETUID"] = u => Any(u, Calls["CAP_SETUID"]),
        ["CAP_SETPCAP"] = u => Any(u, "capset") ?? With(u, "prctl", o => o is 24 or 28, "prctl(PR_CAPBSET_DROP or PR_SET_SECUREBITS)"),
        ["CAP_LINUX_IMMUTABLE"] = OddIoctl,
        ["CAP_NET_BIND_SERVICE"] = u => Any(u, "bind"),
        ["CAP_NET_ADMIN"] = u => Netlink(u) ?? OddSocketOption(u) ?? OddIoctl(u),
        ["CAP_NET_RAW"] = u => RawSocket(u) ?? OddSocketOption(u),
        ["CAP_IPC_LOCK"] = u => Any(u, Calls["CAP_IPC_LOCK"]),
        ["CAP_IPC_OWNER"] = u => Any(u, Calls["CAP_IPC_OWNER"]),
        ["CAP_SYS_MODULE"] = u => Any(u, Calls["CAP_SYS_MODULE"]),
        ["CAP_SYS_RAWIO"] = u => Any(u, SyscallTable.Expand("@raw-io")) ?? OddIoctl(u),
        ["CAP_SYS_CHROOT"] = u => Any(u, "chroot", "setns"),
        ["CAP_SYS_PTRACE"] = u => Any(u, Calls["CAP_SYS_PTRACE"]),
        ["CAP_SYS_PACCT"] = u => Any(u, "acct"),
        ["CAP_SYS_ADMIN"] = u => Any(u, Calls["CAP_SYS_ADMIN"].Where(c => !c.Contains(' '))) ?? NamespaceUse.Evidence(u) ?? OddIoctl(u),
        ["CAP_SYS_BOOT"] = u => Any(u, Calls["CAP_SYS_BOOT"]),
        ["CAP_SYS_NICE"] = u => Any(u, Calls["CAP_SYS_NICE"]),
        ["CAP_SYS_TIME"] = u => Any(u, Calls["CAP_SYS_TIME"]),
        ["CAP_SYS_TTY_CONFIG"] = u => Any(u, "vhangup") ?? OddIoctl(u),
        ["CAP_MKNOD"] = u => Any(u, "mknod", "mknodat"),
        ["CAP_LEASE"] = u => With(u, "fcntl", c => c == 1024, "fcntl(F_SETLEASE)") ?? Any(u, "fcntl64"),
        ["CAP_AUDIT_WRITE"] = Audit,
        ["CAP_AUDIT_CONTROL"] = Audit,
        ["CAP_AUDIT_READ"] = Audit,
        ["CAP_SETFCAP"] = u => Any(u, Calls["CAP_SETFCAP"]),
        ["CAP_SYSLOG"] = u => Any(u, "syslog"),
        ["CAP_WAKE_ALARM"] = u => With(u, "timerfd_create", c => c is 8 or 9, "timerfd_create(an _ALARM clock)")
            ?? With(u, "timer_create", c => c is 8 or 9, "timer_create(an _ALARM clock)"),
        ["CAP_PERFMON"] = u => Any(u, "perf_event_open", "bpf"),
        ["CAP_BPF"] = u => Any(u, "bpf"),
        ["CAP_CHECKPOINT_RESTORE"] = u => With(u, "clone3", f => (f & Arg.Clone3SetTid) != 0, "clone3(set_tid)")
            ?? With(u, "prctl", o => o == 35, "prctl(PR_SET_MM)"),
    };

    private static string? Any(LearnedUse use, params IEnumerable<string> calls) =>
        calls.FirstOrDefault(use.MayHaveCalled) is { } c ? use.Evidence(c) : null;

    private static string? With(LearnedUse use, string call, Func<ulong, bool> matches, string what) =>
        !use.MayHaveCalled(call, matches) ? null : use.IsObserved(call) ? $"{what} was called" : use.Evidence(call);

    /// <summary>ioctl requests that need no capability: tty queries, FIONBIO/FIOCLEX/FIONREAD, interface queries, FS_IOC_GETFLAGS, block size queries.</summary>
    private static readonly HashSet<ulong> HarmlessIoctls =
    [
        0x5401, 0x5402, 0x5403, 0x5404, 0x540B, 0x540F, 0x5410, 0x5411, 0x5413, 0x5414, 0x541B, 0x5421, 0x5429, 0x5450, 0x5451, 0x5452,
        0x80045430, 0x40045431, 0x80086601, 0x80046601, 0x8910, 0x8912, 0x8913, 0x8915, 0x8921, 0x8927, 0x8933, 0x1268, 0x80081272,
    ];

    private static string? OddIoctl(LearnedUse use) => With(use, "ioctl", r => !HarmlessIoctls.Contains(r), "ioctl with a request outside the harmless list");

    /// <summary>setsockopt options that need no capability (SOL_SOCKET's ordinary ones, TCP's but repair and congestion, IP/IPv6's TOS, TTL, V6ONLY, PMTU, PKTINFO, RECVERR).</summary>
    private static bool HarmlessOption(ulong packed) => (int)(packed >> 32) switch
    {
        1 => (int)(uint)packed is 2 or 6 or 7 or 8 or 9 or 10 or 13 or 15 or 16 or 18 or 19 or 20 or 21 or 29 or 34 or 35 or 49 or 60 or 66 or 67,
        6 => (int)(uint)packed is not (13 or 19 or 20 or 21 or 22 or 29),
        0 => (int)(uint)packed is 1 or 2 or 8 or 10 or 11,
        41 => (int)(uint)packed is 23 or 25 or 26 or 49,
        _ => false,
    };

    private static string? OddSocketOption(LearnedUse use) => With(use, "setsockopt", o => !HarmlessOption(o), "setsockopt with an option outside the harmless list");

    private static string? Netlink(LearnedUse use) => With(use, "socket", s => Arg.UnpackSocket(s).Family == 16, "socket(AF_NETLINK)");

    private static string? Audit(LearnedUse use) => With(use, "socket", s => Arg.UnpackSocket(s) is (16, _, 9), "socket(AF_NETLINK, NETLINK_AUDIT)");

    private static string? RawSocket(LearnedUse use) => With(use, "socket", s => Arg.UnpackSocket(s) switch
    {
        (17, _, _) => true,
        (2 or 10, 3 or 10, _) => true,
        _ => false,
    }, "socket(AF_PACKET, or SOCK_RAW/SOCK_PACKET)");
}
