using Supervisor.Linux.Native;
using Supervisor.Units.Model;
using Cond = Supervisor.Sandbox.Seccomp.SeccompArgCondition;
using UnitNamespaces = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>
/// The seccomp rules of the kernel-surface directives (RestrictNamespaces, LockPersonality,
/// MemoryDenyWriteExecute, RestrictRealtime, RestrictSUIDSGID, RestrictAddressFamilies and the
/// system calls of ProtectKernelModules, ProtectKernelLogs, ProtectClock, ProtectHostname), per
/// ABI, with systemd's meaning and errno (src/shared/seccomp-util.c). Where systemd compares a
/// 32-bit argument as 64 bits, these compare the low half the kernel reads, so garbage in the
/// upper half of the register cannot slip past a deny list.
///
/// i386 (on an x86-64 host that runs it): socket() and shmat() are multiplexed through
/// socketcall() and ipc(), whose arguments are in memory or carry a version in the call number;
/// seccomp cannot check them there, and systemd then leaves the ABI unfiltered. Here such a call
/// is refused outright on that ABI instead (socket with EAFNOSUPPORT, ipc and the old
/// struct-pointer mmap with EPERM): never a hole. SystemCallArchitectures = ["native"] removes the
/// ABI altogether, as systemd recommends.
/// </summary>
public static class KernelRestrictions
{
    public const int EPERM = 1, ENOSYS = 38, EAFNOSUPPORT = 97;

    private const ulong ProtWrite = 0x2, ProtExec = 0x4, ShmExec = 0x8000;
    private const ulong SetUid = 0x800, SetGid = 0x400; // S_ISUID 04000, S_ISGID 02000
    private const ulong OCreat = 0x40, OTmpfile = 0x400000; // O_CREAT 0100, __O_TMPFILE 020000000
    private const ulong Low32 = 0xffffffff;
    /// <summary>Address family numbers the socket rules enumerate; the kernel refuses anything above (AF_MAX is 46 in 6.x).</summary>
    private const int FamilyDomain = 64;

    /// <summary>Every rule the unit's directives need on the ABI <paramref name="arch"/> (an AUDIT_ARCH value).</summary>
    public static IReadOnlyList<SyscallRestriction> For(SandboxSection x, uint arch)
    {
        bool i386 = arch == Libseccomp.ArchX86;
        var list = new List<SyscallRestriction>();
        if (x.RestrictNamespaces is { } ns)
            list.AddRange(Namespaces(ns));
        if (x.LockPersonality)
            list.Add(Personality());
        if (x.MemoryDenyWriteExecute)
            list.AddRange(WriteExecute(i386));
        if (x.RestrictRealtime)
            list.AddRange(Realtime());
        if (x.RestrictSUIDSGID)
            list.AddRange(SuidSgid());
        if (x.RestrictAddressFamilies is { } af)
            list.Add(AddressFamilies(af, i386));
        if (x.PrivateDevices)
            list.AddRange(Refuse("PrivateDevices", Group("@raw-io")));
        if (x.ProtectKernelModules)
            list.AddRange(Refuse("ProtectKernelModules", Group("@module")));
        if (x.ProtectKernelLogs)
            list.AddRange(Refuse("ProtectKernelLogs", ["syslog"]));
        if (x.ProtectClock)
            list.AddRange(Refuse("ProtectClock", [.. Group("@clock"), "stime"])); // stime: i386's own way to set the clock
        if (x.ProtectHostname)
            list.AddRange(Refuse("ProtectHostname", ["sethostname", "setdomainname"]));
        return list;
    }

    private static IEnumerable<string> Group(string name) =>
        SyscallGroups.TryGet(name, out var members) ? members.Order(StringComparer.Ordinal) : throw new InvalidOperationException($"no syscall group {name}");

    private static IEnumerable<SyscallRestriction> Refuse(string directive, IEnumerable<string> calls) =>
        calls.Select(c => SyscallRestriction.Always(directive, c, EPERM));

    private static Cond Masked(uint arg, ulong mask, ulong value) => new(arg, SeccompCompare.MaskedEqual, mask, value);

    private static Cond Eq(uint arg, ulong value) => new(arg, SeccompCompare.Equal, value);

    /// <summary>Clone flags of the seven types RestrictNamespaces knows, by the unit model's flag.</summary>
    private static IEnumerable<(UnitNamespaces Type, ulong Flag)> Restrictable() =>
        Supervisor.Linux.NamespaceKind.All.Select((k, i) => ((UnitNamespaces)(1 << i), (ulong)k.CloneFlag))
            .Where(t => NamespaceRestriction.Restrictable.HasFlag(t.Item1));

    /// <summary>
    /// systemd's seccomp_restrict_namespaces: unshare and clone with a forbidden CLONE_NEW* flag,
    /// setns into a forbidden type or with nstype 0 ("any type") fail with EPERM; clone3 keeps its
    /// flags in memory, so it answers ENOSYS and libc falls back to clone.
    /// </summary>
    private static IEnumerable<SyscallRestriction> Namespaces(NamespaceRestriction r)
    {
        const string d = "RestrictNamespaces";
        var kinds = Restrictable().ToList();
        ulong blocked = kinds.Where(k => !r.Allowed.HasFlag(k.Type)).Aggregate(0UL, (m, k) => m | k.Flag);
        if (blocked == 0)
            yield break; // every type allowed: systemd installs nothing
        var flagDeny = kinds.Where(k => (blocked & k.Flag) != 0).Select(k => (IReadOnlyList<Cond>)[Masked(0, k.Flag, k.Flag)]).ToList();
        IReadOnlyList<IReadOnlyList<Cond>> flagAllow = [[Masked(0, blocked, 0)]];
        yield return new SyscallRestriction(d, "unshare", EPERM, flagDeny, flagAllow);
        yield return new SyscallRestriction(d, "clone", EPERM, flagDeny, flagAllow); // flags are argument 0 on x86 and arm
        var allowed = kinds.Where(k => (blocked & k.Flag) == 0).ToList();
        if (allowed.Count == 0)
            yield return SyscallRestriction.Always(d, "setns", EPERM);
        else
            yield return new SyscallRestriction(d, "setns", EPERM,
                [[Masked(1, Low32, 0)], .. flagDeny.Select(c => (IReadOnlyList<Cond>)[c[0] with { Index = 1 }])],
                [.. allowed.Select(k => (IReadOnlyList<Cond>)[Masked(1, blocked | k.Flag, k.Flag)])]);
        yield return SyscallRestriction.Always(d, "clone3", ENOSYS);
    }

    /// <summary>
    /// personality() keeps PER_LINUX (0) or queries (0xffffffff); anything else is EPERM. "Neither
    /// all zeros nor all ones" in the 32 bits the kernel reads is "some bit i set with bit i+1
    /// (cyclically) clear": 32 masked comparisons, none of which either allowed value matches.
    /// </summary>
    private static SyscallRestriction Personality() => new("LockPersonality", "personality", EPERM,
        [.. Enumerable.Range(0, 32).Select(i => (IReadOnlyList<Cond>)[Masked(0, (1UL << i) | (1UL << ((i + 1) % 32)), 1UL << i)])],
        [[Masked(0, Low32, 0)], [Masked(0, Low32, Low32)]]);

    /// <summary>systemd's seccomp_memory_deny_write_execute, per ABI (i386 maps with mmap2; its mmap takes a struct pointer).</summary>
    private static IEnumerable<SyscallRestriction> WriteExecute(bool i386)
    {
        const string d = "MemoryDenyWriteExecute";
        const ulong wx = ProtWrite | ProtExec;
        var mapping = new SyscallRestriction(d, i386 ? "mmap2" : "mmap", EPERM,
            [[Masked(2, wx, wx)]], [[Masked(2, wx, 0)], [Masked(2, wx, ProtWrite)], [Masked(2, wx, ProtExec)]]);
        yield return mapping;
        if (!i386)
            yield return mapping with { Syscall = "mmap2" }; // arm's only mapping call; absent on 64-bit ABIs and skipped there
        else
            yield return SyscallRestriction.Always(d, "mmap", EPERM);
        foreach (var call in new[] { "mprotect", "pkey_mprotect" })
            yield return new SyscallRestriction(d, call, EPERM, [[Masked(2, ProtExec, ProtExec)]], [[Masked(2, ProtExec, 0)]]);
        if (i386)
        {
            yield return SyscallRestriction.Always(d, "shmat", EPERM);
            yield return SyscallRestriction.Always(d, "ipc", EPERM);
        }
        else
        {
            yield return new SyscallRestriction(d, "shmat", EPERM, [[Masked(2, ShmExec, ShmExec)]], [[Masked(2, ShmExec, 0)]]);
        }
    }

    /// <summary>
    /// systemd's seccomp_restrict_realtime: only SCHED_OTHER (0), SCHED_BATCH (3) and SCHED_IDLE (5)
    /// (exactly, so SCHED_RESET_ON_FORK or a dirty upper half is refused too). sched_setattr
    /// passes its policy in a struct seccomp cannot read: refused whole.
    /// </summary>
    private static IEnumerable<SyscallRestriction> Realtime()
    {
        const string d = "RestrictRealtime";
        yield return new SyscallRestriction(d, "sched_setscheduler", EPERM,
            [[Eq(1, 1)], [Eq(1, 2)], [Eq(1, 4)], [new Cond(1, SeccompCompare.GreaterThan, 5)]],
            [[Eq(1, 0)], [Eq(1, 3)], [Eq(1, 5)]]);
        yield return SyscallRestriction.Always(d, "sched_setattr", EPERM);
    }

    /// <summary>systemd's seccomp_restrict_suid_sgid: the mode argument of each call that creates or changes a mode.</summary>
    private static IEnumerable<SyscallRestriction> SuidSgid()
    {
        const string d = "RestrictSUIDSGID";
        const ulong both = SetUid | SetGid;
        var modeArg = new (string Call, uint Mode)[]
        {
            ("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2), ("mkdir", 1), ("mkdirat", 2),
            ("mknod", 1), ("mknodat", 2), ("creat", 1),
        };
        foreach (var (call, mode) in modeArg)
            yield return new SyscallRestriction(d, call, EPERM, [[Masked(mode, SetUid, SetUid)], [Masked(mode, SetGid, SetGid)]], [[Masked(mode, both, 0)]]);
        // open and openat apply the mode only when they create: O_CREAT, or O_TMPFILE (a file linked in later).
        foreach (var (call, flags) in new (string, uint)[] { ("open", 1), ("openat", 2) })
        {
            uint mode = flags + 1;
            var creating = new[] { OCreat, OTmpfile };
            yield return new SyscallRestriction(d, call, EPERM,
                [.. creating.SelectMany(f => new IReadOnlyList<Cond>[] { [Masked(flags, f, f), Masked(mode, SetUid, SetUid)], [Masked(flags, f, f), Masked(mode, SetGid, SetGid)] })],
                [[Masked(flags, OCreat | OTmpfile, 0)], .. creating.Select(f => (IReadOnlyList<Cond>)[Masked(flags, f, f), Masked(mode, both, 0)])]);
        }
        yield return SyscallRestriction.Always(d, "openat2", ENOSYS); // its flags are in a struct: libc falls back to openat
    }

    /// <summary>
    /// systemd's seccomp_restrict_address_families: socket() for the allowed families, else
    /// EAFNOSUPPORT. Each family number below <see cref="FamilyDomain"/> is named, and anything
    /// above is refused (the kernel has no family there, and a dirty upper half lands there too).
    /// </summary>
    private static SyscallRestriction AddressFamilies(AddressFamilyRestriction r, bool i386)
    {
        const string d = "RestrictAddressFamilies";
        var allowed = Enumerable.Range(1, FamilyDomain - 1).Where(r.Allows).ToList();
        if (i386 || allowed.Count == 0)
            return SyscallRestriction.Always(d, "socket", EAFNOSUPPORT);
        var denied = Enumerable.Range(0, FamilyDomain).Except(allowed);
        return new SyscallRestriction(d, "socket", EAFNOSUPPORT,
            [.. denied.Select(f => (IReadOnlyList<Cond>)[Eq(0, (ulong)f)]), [new Cond(0, SeccompCompare.GreaterThan, FamilyDomain - 1)]],
            [.. allowed.Select(f => (IReadOnlyList<Cond>)[Eq(0, (ulong)f)])]);
    }
}
