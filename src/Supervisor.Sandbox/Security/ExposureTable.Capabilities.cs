using Caps = Supervisor.Units.Values.Capabilities;

namespace Supervisor.Sandbox.Security;

public static partial class ExposureTable
{
    /// <summary>
    /// systemd 252's "CapabilityBoundingSet=~…" checks: each fails while any capability it names is
    /// left in the bounding set (after ProtectClock, ProtectKernelModules, ProtectKernelLogs and
    /// PrivateDevices took theirs out, as systemd's unit_patch_contexts does).
    /// </summary>
    private static ExposureCheck[] CapabilityChecks =>
    [
        Capability("CAP_SYS_ADMIN", 1500, "Service has no administrator privileges", "Service has administrator privileges", "CAP_SYS_ADMIN"),
        Capability("CAP_SET(UID|GID|PCAP)", 1500, "Service cannot change UID/GID identities/capabilities", "Service may change UID/GID identities/capabilities",
            "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"),
        Capability("CAP_SYS_PTRACE", 1500, "Service has no ptrace() debugging abilities", "Service has ptrace() debugging abilities", "CAP_SYS_PTRACE"),
        Capability("CAP_SYS_TIME", 1000, "Service processes cannot change the system clock", "Service processes may change the system clock", "CAP_SYS_TIME"),
        Capability("CAP_NET_ADMIN", 1000, "Service has no network configuration privileges", "Service has network configuration privileges", "CAP_NET_ADMIN"),
        Capability("CAP_SYS_RAWIO", 1000, "Service has no raw I/O access", "Service has raw I/O access", "CAP_SYS_RAWIO"),
        Capability("CAP_SYS_MODULE", 1000, "Service cannot load kernel modules", "Service may load kernel modules", "CAP_SYS_MODULE"),
        Capability("CAP_AUDIT_*", 500, "Service has no audit subsystem access", "Service has audit subsystem access", "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE"),
        Capability("CAP_SYSLOG", 500, "Service has no access to kernel logging", "Service has access to kernel logging", "CAP_SYSLOG"),
        Capability("CAP_SYS_(NICE|RESOURCE)", 500, "Service has no privileges to change resource use parameters",
            "Service has privileges to change resource use parameters", "CAP_SYS_NICE", "CAP_SYS_RESOURCE"),
        Capability("CAP_MKNOD", 500, "Service cannot create device nodes", "Service may create device nodes", "CAP_MKNOD"),
        Capability("CAP_(CHOWN|FSETID|SETFCAP)", 1000, "Service cannot change file ownership/access mode/capabilities",
            "Service may change file ownership/access mode/capabilities unrestricted", "CAP_CHOWN", "CAP_FSETID", "CAP_SETFCAP"),
        Capability("CAP_(DAC_*|FOWNER|IPC_OWNER)", 1000, "Service cannot override UNIX file/IPC permission checks",
            "Service may override UNIX file/IPC permission checks", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_IPC_OWNER"),
        Capability("CAP_KILL", 500, "Service cannot send UNIX signals to arbitrary processes", "Service may send UNIX signals to arbitrary processes", "CAP_KILL"),
        Capability("CAP_NET_(BIND_SERVICE|BROADCAST|RAW)", 500, "Service has no elevated networking privileges", "Service has elevated networking privileges",
            "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW"),
        Capability("CAP_SYS_BOOT", 100, "Service cannot issue reboot()", "Service may issue reboot()", "CAP_SYS_BOOT"),
        Capability("CAP_MAC_*", 100, "Service cannot adjust SMACK MAC", "Service may adjust SMACK MAC", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE"),
        Capability("CAP_LINUX_IMMUTABLE", 75, "Service cannot mark files immutable", "Service may mark files immutable", "CAP_LINUX_IMMUTABLE"),
        Capability("CAP_IPC_LOCK", 50, "Service cannot lock memory into RAM", "Service may lock memory into RAM", "CAP_IPC_LOCK"),
        Capability("CAP_SYS_CHROOT", 50, "Service cannot issue chroot()", "Service may issue chroot()", "CAP_SYS_CHROOT"),
        Capability("CAP_BLOCK_SUSPEND", 25, "Service cannot establish wake locks", "Service may establish wake locks", "CAP_BLOCK_SUSPEND"),
        Capability("CAP_WAKE_ALARM", 25, "Service cannot program timers that wake up the system", "Service may program timers that wake up the system", "CAP_WAKE_ALARM"),
        Capability("CAP_LEASE", 25, "Service cannot create file leases", "Service may create file leases", "CAP_LEASE"),
        Capability("CAP_SYS_TTY_CONFIG", 25, "Service cannot issue vhangup()", "Service may issue vhangup()", "CAP_SYS_TTY_CONFIG"),
        Capability("CAP_SYS_PACCT", 25, "Service cannot use acct()", "Service may use acct()", "CAP_SYS_PACCT"),
        Capability("CAP_BPF", 25, "Service may not load BPF programs", "Service may load BPF programs", "CAP_BPF"),
    ];

    private static ExposureCheck Capability(string id, int weight, string good, string bad, params string[] capabilities)
    {
        ulong mask = 0;
        foreach (var c in capabilities) mask |= 1UL << Caps.Parse(c);
        return ExposureCheck.Bool("CapabilityBoundingSet=~" + id, weight, good, bad, f => (f.CapabilityBoundingSet & mask) == 0);
    }
}
