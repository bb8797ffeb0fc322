using System.Collections.Immutable;
using System.Globalization;

namespace Supervisor.Sandbox;

/// <summary>
/// Everything the native helper needs to start one service, already decided and resolved:
/// absolute paths, numeric ids, capability masks, mounts in order, BPF bytes. Immutable and
/// flat, so the same unit always gives the same plan and the helper needs no policy.
/// </summary>
public sealed partial record ExecPlan
{
    /// <summary>Absolute path passed to execve.</summary>
    public required string Path { get; init; }
    /// <summary>argv, argv[0] included.</summary>
    public required ImmutableArray<string> Argv { get; init; }
    /// <summary>"NAME=value" entries, exactly the environment the service gets.</summary>
    public ImmutableArray<string> Environment { get; init; } = [];
    public string? WorkingDirectory { get; init; }
    /// <summary>Null keeps the helper's (root) identity.</summary>
    public Identity? Identity { get; init; }
    public NamespaceFlags Namespaces { get; init; }
    /// <summary>A network namespace to join, e.g. /run/netns/NAME (joined before any new namespace).</summary>
    public string? NetworkNamespacePath { get; init; }
    public ImmutableArray<IdMapEntry> UidMap { get; init; } = [];
    public ImmutableArray<IdMapEntry> GidMap { get; init; } = [];
    public string? Hostname { get; init; }
    public ImmutableArray<MountOperation> Mounts { get; init; } = [];
    public ImmutableArray<ResourceLimit> ResourceLimits { get; init; } = [];
    /// <summary>Null leaves the capability sets as the kernel computes them for the identity.</summary>
    public CapabilitySets? Capabilities { get; init; }
    public uint? SecureBits { get; init; }
    public bool NoNewPrivileges { get; init; }
    /// <summary>Bring up lo (for a new network namespace, where it starts down).</summary>
    public bool LoopbackUp { get; init; }
    public LsmLabel? Lsm { get; init; }
    /// <summary>A struct sock_filter[] program compiled by <see cref="Seccomp.SeccompCompiler"/>; empty for none.</summary>
    public ImmutableArray<byte> SeccompBpf { get; init; } = [];
    /// <summary>
    /// The filter reports the calls it denies (SECCOMP_RET_USER_NOTIF) and is loaded with a
    /// listener the helper hands to the supervisor, which answers each call this way; null: the
    /// filter answers by itself. Set only with <see cref="SeccompBpf"/>.
    /// </summary>
    public Seccomp.SeccompAnswer? SeccompNotify { get; init; }
    /// <summary>The session keyring the service gets; the compiler gives every service a new one (<see cref="KeyringMode.Private"/>).</summary>
    public KeyringMode Keyring { get; init; } = KeyringMode.Inherit;
    /// <summary>The cgroups the helper joins before anything else, in order (see <see cref="Compiler.CgroupJoinPlanner"/>).</summary>
    public ImmutableArray<CgroupJoin> CgroupJoins { get; init; } = [];
    /// <summary>The umask the service starts with (0–0777), set just before execve; null keeps the supervisor's.</summary>
    public uint? UMask { get; init; }
    /// <summary>
    /// Capabilities the unit's CapabilityBoundingSet names that the supervisor itself does not hold:
    /// not in <see cref="Capabilities"/> (no process can hand out what it lacks), and reported by
    /// inspect as declared but unavailable instead of passing as a match.
    /// </summary>
    public ulong UnavailableCapabilities { get; init; }
    /// <summary>File descriptors in the supervisor that become the service's 0, 1 and 2.</summary>
    public StdioFds Stdio { get; init; } = StdioFds.Null;
    /// <summary>
    /// Listening sockets in the supervisor that the service gets as fds 3.. (socket activation; the
    /// environment carries LISTEN_FDS and LISTEN_FDNAMES, the helper sets LISTEN_PID). Like
    /// <see cref="Stdio"/>, set at launch, never compiled.
    /// </summary>
    public ImmutableArray<int> ListenFds { get; init; } = [];

    /// <summary>
    /// Type=forking in a pid namespace: the namespace's init reports every process it reaps on a
    /// pipe (<see cref="Launch.SandboxProcess.InitReports"/>) and stays while the namespace has
    /// processes, instead of exiting with the forking parent and killing the daemon.
    /// </summary>
    public bool InitReports { get; init; }

    /// <summary>The helper forks (pid or user namespace): the supervisor's child is a clone, not the helper.</summary>
    public bool HelperClones => (Namespaces & (NamespaceFlags.Pid | NamespaceFlags.User)) != 0;

    internal void Validate()
    {
        Check(System.IO.Path.IsPathRooted(Path), $"Path must be absolute, got '{Path}'");
        Check(!Argv.IsDefaultOrEmpty, "Argv must hold at least argv[0]");
        Check(Argv.Length <= HelperProtocol.PlanMaxArgs, $"at most {HelperProtocol.PlanMaxArgs} arguments, got {Argv.Length}");
        Check(Environment.IsDefault || Environment.Length <= HelperProtocol.PlanMaxEnv, $"at most {HelperProtocol.PlanMaxEnv} environment entries");
        Check(Mounts.IsDefault || Mounts.Length <= HelperProtocol.PlanMaxMounts, $"at most {HelperProtocol.PlanMaxMounts} mount operations");
        Check(ResourceLimits.IsDefault || ResourceLimits.Length <= HelperProtocol.PlanMaxRlimits, $"at most {HelperProtocol.PlanMaxRlimits} resource limits");
        Check(CgroupJoins.IsDefault || CgroupJoins.Length <= HelperProtocol.PlanMaxCgroups, $"at most {HelperProtocol.PlanMaxCgroups} cgroups");
        Check(ListenFds.IsDefault || ListenFds.Length <= HelperProtocol.PlanMaxListenFds, $"at most {HelperProtocol.PlanMaxListenFds} listening sockets");
        Check(Identity is null || Identity.SupplementaryGroups.Length <= HelperProtocol.PlanMaxGroups, $"at most {HelperProtocol.PlanMaxGroups} supplementary groups");
        Check(Enum.IsDefined(Keyring), $"unknown keyring mode {(uint)Keyring}");
        Check(UMask is null or <= 0x1FF, $"a umask holds only the bits 0–0777, got {Convert.ToString(UMask ?? 0, 8)}");
        Process.Validate(Check);
        Check(Enum.IsDefined(Terminal), $"unknown terminal mode {(uint)Terminal}");
        Check(Landlock is null || Landlock.RuleCount <= HelperProtocol.PlanMaxLandlockRules, $"at most {HelperProtocol.PlanMaxLandlockRules} Landlock rules");
        Check(Landlock is null || Landlock.Ports.All(p => p.Port is > 0 and <= 65535), "Landlock ports are 1–65535");
        Check(Landlock is null || Landlock.Paths.All(p => p.Path.StartsWith('/') && p.Access != 0), "Landlock paths are absolute, each with some right");
        Check(Landlock is null || (Landlock.HandledFs | Landlock.HandledNet | Landlock.Scoped) != 0, "a Landlock ruleset handles some right");
        Check(SeccompBpf.IsDefaultOrEmpty || SeccompBpf.Length % 8 == 0, "SeccompBpf must be whole 8-byte sock_filter instructions");
        Check(NetworkNamespacePath is null || (Namespaces & NamespaceFlags.Net) == 0, "cannot both join a network namespace and create one");
        Check(Capabilities is null || (Capabilities.Ambient & ~(Capabilities.Permitted & Capabilities.Inheritable)) == 0,
            "ambient capabilities must be in both the permitted and the inheritable set");
        foreach (var s in AllStrings())
            Check(!s.Contains('\0'), $"strings in a plan cannot contain NUL: '{s.Replace("\0", "\\0")}'");
    }

    private IEnumerable<string> AllStrings()
    {
        yield return Path;
        foreach (var s in Argv) yield return s;
        if (!Environment.IsDefault) foreach (var s in Environment) yield return s;
        if (WorkingDirectory is not null) yield return WorkingDirectory;
        if (NetworkNamespacePath is not null) yield return NetworkNamespacePath;
        if (Hostname is not null) yield return Hostname;
        if (Lsm is not null) yield return Lsm.Value;
        if (!CgroupJoins.IsDefault) foreach (var c in CgroupJoins) yield return c.File;
        if (Landlock is not null) foreach (var r in Landlock.Paths) yield return r.Path;
        if (!Mounts.IsDefault)
            foreach (var m in Mounts)
            {
                var e = m.Encode();
                yield return e.Source;
                yield return e.Target;
                yield return e.Data;
            }
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
            throw new ArgumentException("invalid ExecPlan: " + message);
    }
}

/// <summary>Kernel CLONE_NEW* bits (the helper passes them to unshare/clone as they are).</summary>
[Flags]
public enum NamespaceFlags : uint
{
    None = 0,
    Time = HelperProtocol.NsTime,
    Mount = HelperProtocol.NsMount,
    Cgroup = HelperProtocol.NsCgroup,
    Uts = HelperProtocol.NsUts,
    Ipc = HelperProtocol.NsIpc,
    User = HelperProtocol.NsUser,
    Pid = HelperProtocol.NsPid,
    Net = HelperProtocol.NsNet,
}

public sealed record Identity(uint Uid, uint Gid, ImmutableArray<uint> SupplementaryGroups);

/// <summary>The session keyring the service gets (systemd's KeyringMode=).</summary>
public enum KeyringMode : uint
{
    /// <summary>The supervisor's own, with every key in it.</summary>
    Inherit = HelperProtocol.KeyringModeInherit,
    /// <summary>A new, empty session keyring, shared only by the service's processes.</summary>
    Private = HelperProtocol.KeyringModePrivate,
    /// <summary>A new session keyring with the service user's user keyring linked in.</summary>
    Shared = HelperProtocol.KeyringModeShared,
}

/// <summary>What the helper writes to a cgroup file to join it.</summary>
public enum CgroupJoinWrite
{
    /// <summary>Its pid ("cgroup.procs": the whole process moves).</summary>
    ProcessId,
    /// <summary>"0": the writing thread moves (the helper has one thread, so the whole process does).</summary>
    CallingThread,
}

/// <summary>One cgroup join step: write <see cref="Write"/> to <see cref="File"/>.</summary>
public sealed record CgroupJoin(string File, CgroupJoinWrite Write)
{
    /// <summary>The cgroup's directory, for messages and the isolation check.</summary>
    public string Directory => System.IO.Path.GetDirectoryName(File) ?? "/";
}

/// <summary>One line of /proc/PID/uid_map: ids [Inside, Inside+Count) map to [Outside, Outside+Count).</summary>
public sealed record IdMapEntry(uint Inside, uint Outside, uint Count)
{
    public static string Format(IEnumerable<IdMapEntry> entries) =>
        string.Concat(entries.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Inside} {e.Outside} {e.Count}\n")));
}

/// <summary>The five capability sets as bit masks (bit N = capability number N).</summary>
public sealed record CapabilitySets(ulong Bounding, ulong Permitted, ulong Effective, ulong Inheritable, ulong Ambient);

public enum LsmKind : uint
{
    AppArmor = HelperProtocol.LsmKindAppArmor,
    SELinux = HelperProtocol.LsmKindSELinux,
}

/// <summary>The label the service gets at execve (from the unit's OptionalLabel); SkipIfUnavailable is systemd's leading "-".</summary>
public sealed record LsmLabel(LsmKind Kind, string Value, bool SkipIfUnavailable);

/// <summary>RLIMIT_* numbers of Linux (asm-generic/resource.h; x86_64 uses the generic ones).</summary>
public enum RlimitResource : uint
{
    Cpu = 0, Fsize = 1, Data = 2, Stack = 3, Core = 4, Rss = 5, Nproc = 6, Nofile = 7,
    Memlock = 8, As = 9, Locks = 10, Sigpending = 11, Msgqueue = 12, Nice = 13, Rtprio = 14, Rttime = 15,
}

public sealed record ResourceLimit(RlimitResource Resource, ulong Soft, ulong Hard)
{
    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Infinity = ulong.MaxValue;
}

/// <summary>Supervisor-side fds for the service's stdin, stdout, stderr; -1 means /dev/null.</summary>
public readonly record struct StdioFds(int In, int Out, int Err)
{
    public static StdioFds Null => new(-1, -1, -1);
    /// <summary>The supervisor's own 0, 1, 2 (for `supervisor exec` in the foreground).</summary>
    public static StdioFds Inherit => new(0, 1, 2);
}

/// <summary>
/// One step of building the service's filesystem view, applied in order by the helper's mount.c.
/// A small closed set modelled on bubblewrap's SETUP_* operations.
/// </summary>
public abstract record MountOperation
{
    private protected MountOperation() { }

    internal abstract (uint Op, uint Flags, uint Mode, string Source, string Target, string Data) Encode();

    /// <summary>What the operation does, in words, for error messages and inspect output.</summary>
    public abstract string Describe();

    private protected static uint Flags(bool readOnly, bool recursive, bool optional, bool create = false) =>
        (readOnly ? HelperProtocol.MountFlagReadOnly : 0) | (recursive ? HelperProtocol.MountFlagRecursive : 0) |
        (optional ? HelperProtocol.MountFlagOptional : 0) | (create ? HelperProtocol.MountFlagCreate : 0);
}

/// <summary>
/// Bind Source (the host's path, cloned before any operation runs) onto Target, then make it
/// read-only or read-write explicitly. Create: a missing Target is made (a directory, or a file
/// for a non-directory source) with its parents; only inside a fresh tmpfs of the plan.
/// </summary>
public sealed record BindMount(string Source, string Target, bool ReadOnly, bool Recursive = true, bool Optional = false, bool Create = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpBind, Flags(ReadOnly, Recursive, Optional, Create), 0, Source, Target, "");
    public override string Describe() =>
        $"bind '{Source}' on '{Target}' {(ReadOnly ? "read-only" : "read-write")}{(Optional ? " (if it exists)" : "")}{(Create ? " (mount point created)" : "")}";
}

/// <summary>Make an existing path read-only (or writable again), itself and, if Recursive, every mount below.</summary>
public sealed record RemountMount(string Path, bool ReadOnly, bool Recursive = true, bool Optional = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpRemount, Flags(ReadOnly, Recursive, Optional), 0, "", Path, "");
    public override string Describe() =>
        $"make '{Path}' {(ReadOnly ? "read-only" : "read-write")}{(Optional ? " (if it exists)" : "")}";
}

/// <summary>
/// A new tmpfs (always nosuid, nodev). ReadOnly takes effect after every other operation but
/// pivot_root, so mount points can still be created inside it; Create makes a missing Target.
/// </summary>
public sealed record TmpfsMount(string Target, uint Mode = 0x3FF /* 01777 */, string Options = "", bool ReadOnly = false, bool NoExec = false, bool Create = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpTmpfs, Flags(ReadOnly, false, false, Create) | (NoExec ? HelperProtocol.MountFlagNoExec : 0), Mode, "", Target, Options);
    public override string Describe() => $"mount a {(ReadOnly ? "read-only " : "")}tmpfs on '{Target}'";
}

/// <summary>
/// A new proc instance; Options such as "hidepid=invisible". Early: made before the namespaces,
/// for a user namespace without its own pid namespace (where the service's root cannot mount proc).
/// </summary>
public sealed record ProcMount(string Target, string Options = "", bool Early = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpProc, Early ? HelperProtocol.MountFlagEarly : 0, 0, "", Target, Options);
    public override string Describe() => $"mount proc on '{Target}'{(Options.Length > 0 ? $" ({Options})" : "")}";
}

/// <summary>NoExecPaths (NoExec) and ExecPaths: the noexec attribute of Path and, if Recursive, every mount below.</summary>
public sealed record ExecAttributeMount(string Path, bool NoExec, bool Recursive = true, bool Optional = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpExecAttr, Flags(false, Recursive, Optional) | (NoExec ? HelperProtocol.MountFlagNoExec : 0), 0, "", Path, "");
    public override string Describe() =>
        $"make '{Path}' {(NoExec ? "noexec" : "executable")}{(Optional ? " (if it exists)" : "")}";
}

/// <summary>A new mqueue instance (the message queues of the unit's IPC namespace) at Target.</summary>
public sealed record MqueueMount(string Target, bool Optional = false, bool Create = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpMqueue, Flags(false, false, Optional, Create), 0, "", Target, "");
    public override string Describe() => $"mount mqueue on '{Target}'";
}

public sealed record InaccessibleMount(string Path, bool Optional = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpInaccessible, Flags(false, false, Optional), 0, "", Path, "");
    public override string Describe() => $"make '{Path}' inaccessible{(Optional ? " (if it exists)" : "")}";
}

/// <summary>A tmpfs /dev with null, zero, full, random, urandom, tty, a private pts and shm.</summary>
public sealed record MinimalDevMount(string Target) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpMinimalDev, 0, 0, "", Target, "");
    public override string Describe() => $"mount a minimal /dev on '{Target}'";
}

/// <summary>A mount point: a directory, or with File an empty file (for a non-directory bind); an existing one is fine.</summary>
public sealed record MkdirOperation(string Path, uint Mode = 0x1ED /* 0755 */, bool File = false) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpMkdir, File ? HelperProtocol.MountFlagFile : 0, Mode, "", Path, "");
    public override string Describe() => $"create {(File ? "file" : "directory")} '{Path}'";
}

/// <summary>pivot_root into NewRoot and detach the old root (never chroot: it is escapable).</summary>
public sealed record PivotRootOperation(string NewRoot) : MountOperation
{
    internal override (uint, uint, uint, string, string, string) Encode() =>
        (HelperProtocol.MountOpPivotRoot, 0, 0, "", NewRoot, "");
    public override string Describe() => $"pivot_root into '{NewRoot}'";
}
