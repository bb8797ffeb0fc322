using Supervisor.Units.Model;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Sandbox] keys that close kernel interfaces: seccomp argument filters and the Protect* kernel
    /// directives (systemd.exec(5)). The seccomp ones go into the unit's one filter, with
    /// SystemCallFilter's; none of them is a cgroup setting, so v1 and v2 hosts behave alike.
    /// </summary>
    private static IEnumerable<KeySpec> KernelSurfaceKeys() =>
    [
        X("RestrictNamespaces", Restart, V.NamespaceRestriction, x => x.RestrictNamespaces, (x, v) => x with { RestrictNamespaces = v }, "false",
            "true: no namespace of any type may be created or joined; a list of cgroup ipc net mnt pid user uts: only these (\"~\" on the first entry: all but these); unshare, clone and setns fail with EPERM, clone3 with ENOSYS so libc falls back to clone (seccomp; v1 and v2 alike)", MergeRule.List),
        X("LockPersonality", Restart, V.SystemdBool, x => x.LockPersonality, (x, v) => x with { LockPersonality = v }, "false",
            "personality() may only keep PER_LINUX or query it (0xffffffff); any other execution domain fails with EPERM (seccomp; v1 and v2 alike)"),
        X("MemoryDenyWriteExecute", Restart, V.SystemdBool, x => x.MemoryDenyWriteExecute, (x, v) => x with { MemoryDenyWriteExecute = v }, "false",
            "no memory both writable and executable: mmap with PROT_WRITE|PROT_EXEC, mprotect and pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC fail with EPERM (seccomp; v1 and v2 alike)"),
        X("RestrictRealtime", Restart, V.SystemdBool, x => x.RestrictRealtime, (x, v) => x with { RestrictRealtime = v }, "false",
            "sched_setscheduler to SCHED_FIFO, SCHED_RR or SCHED_DEADLINE fails with EPERM, and so does sched_setattr, whose policy seccomp cannot see (seccomp; v1 and v2 alike)"),
        X("RestrictSUIDSGID", Restart, V.SystemdBool, x => x.RestrictSUIDSGID, (x, v) => x with { RestrictSUIDSGID = v }, "false",
            "no setuid or setgid files: chmod, fchmod, fchmodat, fchmodat2, mkdir, mkdirat, mknod, mknodat, creat, and open/openat with O_CREAT or O_TMPFILE fail with EPERM when the mode has S_ISUID or S_ISGID; openat2 fails with ENOSYS (seccomp; v1 and v2 alike)"),
        X("RestrictAddressFamilies", Restart, V.AddressFamilyRestriction, x => x.RestrictAddressFamilies, (x, v) => x with { RestrictAddressFamilies = v }, "[] (all)",
            "socket() only for these address families (\"~\" on the first entry: all but these; \"none\": no sockets); others fail with EAFNOSUPPORT (seccomp; v1 and v2 alike)", MergeRule.List),
        X("ProtectKernelModules", Restart, V.SystemdBool, x => x.ProtectKernelModules, (x, v) => x with { ProtectKernelModules = v }, "false",
            "no kernel modules: CAP_SYS_MODULE leaves the bounding set, @module calls fail with EPERM, /usr/lib/modules and /lib/modules are inaccessible (v1 and v2 alike)"),
        X("ProtectKernelLogs", Restart, V.SystemdBool, x => x.ProtectKernelLogs, (x, v) => x with { ProtectKernelLogs = v }, "false",
            "no kernel log: CAP_SYSLOG leaves the bounding set, syslog(2) fails with EPERM, /proc/kmsg and /dev/kmsg are inaccessible (v1 and v2 alike)"),
        X("ProtectClock", Restart, V.SystemdBool, x => x.ProtectClock, (x, v) => x with { ProtectClock = v }, "false",
            "the clock cannot be set: CAP_SYS_TIME and CAP_WAKE_ALARM leave the bounding set, @clock calls fail with EPERM, RTC device nodes are inaccessible (v1 and v2 alike)"),
        X("ProtectHostname", Restart, V.SystemdBool, x => x.ProtectHostname, (x, v) => x with { ProtectHostname = v }, "false",
            "an own uts namespace, and sethostname/setdomainname fail with EPERM (v1 and v2 alike)"),
        X("ProcSubset", Restart, V.Enum(("all", ProcSubset.All), ("pid", ProcSubset.Pid)), x => x.ProcSubset, (x, v) => x with { ProcSubset = v }, "\"all\"",
            "\"pid\": /proc shows only process directories (a new proc instance with subset=pid; /proc/sys, /proc/meminfo … are gone) (v1 and v2 alike)"),
    ];
}
