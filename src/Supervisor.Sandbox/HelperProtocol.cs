using System.Buffers.Binary;
using System.Text;

namespace Supervisor.Sandbox;

/// <summary>
/// The wire format between the supervisor and the native helper. Every constant here is also
/// defined in src/helper/plan.h; HelperProtocolTests parses plan.h and checks both agree (runc
/// keeps nsexec.c and message_linux.go in step the same way). Values are part of the protocol:
/// never renumber or reuse one.
/// </summary>
public static partial class HelperProtocol
{
    public const uint PlanMagic = 0x31505653; // PLAN_MAGIC, "SVP1"
    public const uint PlanVersion = 7;         // PLAN_VERSION
    public const int PlanFd = 3;               // PLAN_FD
    public const int StatusFd = 4;             // STATUS_FD
    public const int ListenFdsFirst = 5;       // LISTEN_FDS_FIRST

    // The plan's limits live in Supervisor.Units.Limits, which the unit-file checks derive from.
    public const uint PlanMaxBytes = Units.Limits.PlanMaxBytes;     // PLAN_MAX_BYTES
    public const int PlanMaxArgs = Units.Limits.PlanMaxArgs;        // PLAN_MAX_ARGS
    public const int PlanMaxEnv = Units.Limits.PlanMaxEnv;          // PLAN_MAX_ENV
    public const int PlanMaxGroups = Units.Limits.PlanMaxGroups;    // PLAN_MAX_GROUPS
    public const int PlanMaxMounts = Units.Limits.PlanMaxMounts;    // PLAN_MAX_MOUNTS
    public const int PlanMaxRlimits = Units.Limits.PlanMaxRlimits;  // PLAN_MAX_RLIMITS
    public const int PlanMaxCgroups = Units.Limits.PlanMaxCgroups;  // PLAN_MAX_CGROUPS
    public const int PlanMaxListenFds = 8192;  // PLAN_MAX_LISTEN_FDS
    public const int PlanMaxLandlockRules = Units.Limits.PlanMaxLandlockRules; // PLAN_MAX_LANDLOCK_RULES

    public const uint TagEnd = 0;              // PLAN_TAG_END
    public const uint TagPath = 1;             // PLAN_TAG_PATH
    public const uint TagArg = 2;              // PLAN_TAG_ARG
    public const uint TagEnv = 3;              // PLAN_TAG_ENV
    public const uint TagCwd = 4;              // PLAN_TAG_CWD
    public const uint TagIdentity = 5;         // PLAN_TAG_IDENTITY
    public const uint TagNsFlags = 6;          // PLAN_TAG_NSFLAGS
    public const uint TagNetnsPath = 7;        // PLAN_TAG_NETNS_PATH
    public const uint TagUidMap = 8;           // PLAN_TAG_UID_MAP
    public const uint TagGidMap = 9;           // PLAN_TAG_GID_MAP
    public const uint TagHostname = 10;        // PLAN_TAG_HOSTNAME
    public const uint TagMount = 11;           // PLAN_TAG_MOUNT
    public const uint TagRlimit = 12;          // PLAN_TAG_RLIMIT
    public const uint TagCaps = 13;            // PLAN_TAG_CAPS
    public const uint TagSecureBits = 14;      // PLAN_TAG_SECUREBITS
    public const uint TagFlags = 15;           // PLAN_TAG_FLAGS
    public const uint TagLsm = 16;             // PLAN_TAG_LSM
    public const uint TagSeccomp = 17;         // PLAN_TAG_SECCOMP
    public const uint TagCgroupProcs = 18;     // PLAN_TAG_CGROUP_PROCS
    public const uint TagCgroupThread = 19;    // PLAN_TAG_CGROUP_THREAD
    public const uint TagKeyring = 20;         // PLAN_TAG_KEYRING
    public const uint TagUmask = 21;           // PLAN_TAG_UMASK
    public const uint TagProcAttr = 22;        // PLAN_TAG_PROCATTR
    public const uint TagTty = 23;             // PLAN_TAG_TTY
    public const uint TagListenFds = 24;       // PLAN_TAG_LISTEN_FDS
    public const uint TagInitReport = 25;      // PLAN_TAG_INIT_REPORT
    public const uint TagLandlock = 26;        // PLAN_TAG_LANDLOCK
    public const uint TagLandlockPath = 27;    // PLAN_TAG_LANDLOCK_PATH
    public const uint TagLandlockPort = 28;    // PLAN_TAG_LANDLOCK_PORT
    public const uint TagSeccompNotify = 29;   // PLAN_TAG_SECCOMP_NOTIFY

    public const uint NsTime = 0x00000080;     // PLAN_NS_TIME
    public const uint NsMount = 0x00020000;    // PLAN_NS_MOUNT
    public const uint NsCgroup = 0x02000000;   // PLAN_NS_CGROUP
    public const uint NsUts = 0x04000000;      // PLAN_NS_UTS
    public const uint NsIpc = 0x08000000;      // PLAN_NS_IPC
    public const uint NsUser = 0x10000000;     // PLAN_NS_USER
    public const uint NsPid = 0x20000000;      // PLAN_NS_PID
    public const uint NsNet = 0x40000000;      // PLAN_NS_NET

    public const uint FlagNoNewPrivs = 0x1;    // PLAN_FLAG_NO_NEW_PRIVS
    public const uint FlagLoopbackUp = 0x2;    // PLAN_FLAG_LOOPBACK_UP

    public const uint LandlockPathOptional = 0x1; // LANDLOCK_PATH_OPTIONAL

    public const uint MountOpBind = 1;         // MOUNT_OP_BIND
    public const uint MountOpRemount = 2;      // MOUNT_OP_REMOUNT
    public const uint MountOpTmpfs = 3;        // MOUNT_OP_TMPFS
    public const uint MountOpProc = 4;         // MOUNT_OP_PROC
    public const uint MountOpInaccessible = 5; // MOUNT_OP_INACCESSIBLE
    public const uint MountOpMinimalDev = 6;   // MOUNT_OP_MINIMAL_DEV
    public const uint MountOpMkdir = 7;        // MOUNT_OP_MKDIR
    public const uint MountOpPivotRoot = 8;    // MOUNT_OP_PIVOT_ROOT
    public const uint MountOpExecAttr = 9;     // MOUNT_OP_EXEC_ATTR
    public const uint MountOpMqueue = 10;      // MOUNT_OP_MQUEUE

    public const uint MountFlagReadOnly = 0x1;  // MOUNT_FLAG_READ_ONLY
    public const uint MountFlagRecursive = 0x2; // MOUNT_FLAG_RECURSIVE
    public const uint MountFlagOptional = 0x4;  // MOUNT_FLAG_OPTIONAL
    public const uint MountFlagCreate = 0x8;    // MOUNT_FLAG_CREATE
    public const uint MountFlagNoExec = 0x10;   // MOUNT_FLAG_NOEXEC
    public const uint MountFlagEarly = 0x20;    // MOUNT_FLAG_EARLY
    public const uint MountFlagFile = 0x40;     // MOUNT_FLAG_FILE

    public const uint ProcAttrNice = 0x1;           // PROCATTR_NICE
    public const uint ProcAttrSched = 0x2;          // PROCATTR_SCHED
    public const uint ProcAttrResetOnFork = 0x4;    // PROCATTR_RESET_ON_FORK
    public const uint ProcAttrIoPrio = 0x8;         // PROCATTR_IOPRIO
    public const uint ProcAttrOomScoreAdj = 0x10;   // PROCATTR_OOM_SCORE_ADJ
    public const uint ProcAttrIgnoreSigpipe = 0x20; // PROCATTR_IGNORE_SIGPIPE

    public const uint TtyModeNone = 0;         // TTY_MODE_NONE
    public const uint TtyModeTry = 1;          // TTY_MODE_TRY
    public const uint TtyModeForce = 2;        // TTY_MODE_FORCE
    public const uint TtyModeFail = 3;         // TTY_MODE_FAIL

    public const uint KeyringModeInherit = 0;  // KEYRING_MODE_INHERIT
    public const uint KeyringModePrivate = 1;  // KEYRING_MODE_PRIVATE
    public const uint KeyringModeShared = 2;   // KEYRING_MODE_SHARED

    public const uint LsmKindAppArmor = 1;     // LSM_KIND_APPARMOR
    public const uint LsmKindSELinux = 2;      // LSM_KIND_SELINUX

    public const uint StatusKindError = 1;       // STATUS_KIND_ERROR
    public const uint StatusKindChildPid = 2;    // STATUS_KIND_CHILD_PID
    public const uint StatusKindLsmSkipped = 3;  // STATUS_KIND_LSM_SKIPPED
    public const uint StatusKindNotifySender = 4; // STATUS_KIND_NOTIFY_SENDER
    public const int StatusRecordBytes = 16;     // four u32, see plan.h

    /// <summary>Serializes a plan into the bytes the helper reads from <see cref="PlanFd"/>.</summary>
    public static byte[] Serialize(ExecPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan.Validate();
        var w = new PlanWriter();
        w.U32(PlanMagic);
        w.U32(PlanVersion);
        WriteProgram(w, plan);
        WriteNamespaces(w, plan);
        foreach (var m in plan.Mounts)
            WriteMount(w, m);
        WritePrivileges(w, plan);
        foreach (var c in plan.CgroupJoins)
            w.StringRecord(c.Write == CgroupJoinWrite.CallingThread ? TagCgroupThread : TagCgroupProcs, c.File);
        w.Record(TagKeyring, r => r.U32((uint)plan.Keyring));
        WriteProcess(w, plan);
        WriteLandlock(w, plan);
        w.U32(TagEnd);
        w.U32(0);
        var bytes = w.ToArray();
        if ((uint)bytes.Length > PlanMaxBytes)
            throw new ArgumentException($"the plan is {bytes.Length} bytes; the helper accepts at most {PlanMaxBytes}", nameof(plan));
        return bytes;
    }

    /// <summary>What runs, where, as whom: path, argv, environment, working directory, identity.</summary>
    private static void WriteProgram(PlanWriter w, ExecPlan plan)
    {
        w.StringRecord(TagPath, plan.Path);
        foreach (var a in plan.Argv)
            w.StringRecord(TagArg, a);
        foreach (var e in plan.Environment)
            w.StringRecord(TagEnv, e);
        if (plan.WorkingDirectory is { } cwd)
            w.StringRecord(TagCwd, cwd);
        if (plan.Identity is { } id)
        {
            w.Record(TagIdentity, r =>
            {
                r.U32(id.Uid);
                r.U32(id.Gid);
                r.U32((uint)id.SupplementaryGroups.Length);
                foreach (var g in id.SupplementaryGroups)
                    r.U32(g);
            });
        }
    }

    private static void WriteNamespaces(PlanWriter w, ExecPlan plan)
    {
        w.Record(TagNsFlags, r => r.U32((uint)plan.Namespaces));
        if (plan.NetworkNamespacePath is { } netns)
            w.StringRecord(TagNetnsPath, netns);
        if (!plan.UidMap.IsDefaultOrEmpty)
            w.StringRecord(TagUidMap, IdMapEntry.Format(plan.UidMap));
        if (!plan.GidMap.IsDefaultOrEmpty)
            w.StringRecord(TagGidMap, IdMapEntry.Format(plan.GidMap));
        if (plan.Hostname is { } hostname)
            w.StringRecord(TagHostname, hostname);
    }

    private static void WriteMount(PlanWriter w, MountOperation m)
    {
        var (op, flags, mode, src, dst, data) = m.Encode();
        w.Record(TagMount, r =>
        {
            r.U32(op);
            r.U32(flags);
            r.U32(mode);
            r.LengthPrefixedString(src);
            r.LengthPrefixedString(dst);
            r.LengthPrefixedString(data);
        });
    }

    /// <summary>Resource limits, capabilities, securebits, flags, LSM label, seccomp filter.</summary>
    private static void WritePrivileges(PlanWriter w, ExecPlan plan)
    {
        foreach (var l in plan.ResourceLimits)
        {
            w.Record(TagRlimit, r =>
            {
                r.U32((uint)l.Resource);
                r.U32(0);
                r.U64(l.Soft);
                r.U64(l.Hard);
            });
        }
        if (plan.Capabilities is { } caps)
        {
            w.Record(TagCaps, r =>
            {
                r.U64(caps.Bounding);
                r.U64(caps.Permitted);
                r.U64(caps.Effective);
                r.U64(caps.Inheritable);
                r.U64(caps.Ambient);
            });
        }
        if (plan.SecureBits is { } bits)
            w.Record(TagSecureBits, r => r.U32(bits));
        uint flagsValue = (plan.NoNewPrivileges ? FlagNoNewPrivs : 0) | (plan.LoopbackUp ? FlagLoopbackUp : 0);
        w.Record(TagFlags, r => r.U32(flagsValue));
        if (plan.Lsm is { } lsm)
        {
            w.Record(TagLsm, r =>
            {
                r.U32((uint)lsm.Kind);
                r.U32(lsm.SkipIfUnavailable ? 1u : 0u);
                r.CString(lsm.Value);
            });
        }
        if (!plan.SeccompBpf.IsDefaultOrEmpty)
            w.Record(TagSeccomp, r => r.Bytes(plan.SeccompBpf.AsSpan()));
        if (plan.UMask is { } umask)
            w.Record(TagUmask, r => r.U32(umask));
        if (!plan.ListenFds.IsDefaultOrEmpty)
            w.Record(TagListenFds, r => r.U32((uint)plan.ListenFds.Length));
        if (plan.InitReports)
            w.Record(TagInitReport, r => r.U32((uint)InitReportFd(plan)));
        if (plan.SeccompNotify is not null && !plan.SeccompBpf.IsDefaultOrEmpty)
            w.Record(TagSeccompNotify, r => r.U32((uint)SeccompNotifyFd(plan)));
    }

    /// <summary>Where the launcher places the socket the seccomp listener comes back on: the fd after the init's report pipe.</summary>
    public static int SeccompNotifyFd(ExecPlan plan) => InitReportFd(plan) + 1;

    /// <summary>Where the launcher places the init's report pipe: the first fd above the listening sockets.</summary>
    public static int InitReportFd(ExecPlan plan) => ListenFdsFirst + (plan.ListenFds.IsDefault ? 0 : plan.ListenFds.Length);

    /// <summary>One record of the init's report pipe (struct init_report): pid in the namespace, wait status, flags.</summary>
    public const int InitReportBytes = 12;
    public const uint InitReportService = 1;   // INIT_REPORT_SERVICE

    /// <summary>Little growable buffer in host byte order (the helper runs on the same machine).</summary>
    private sealed class PlanWriter
    {
        private readonly MemoryStream _s = new();

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _s.Write(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _s.Write(b);
        }

        public void Bytes(ReadOnlySpan<byte> b) => _s.Write(b);

        public void CString(string s)
        {
            _s.Write(Encoding.UTF8.GetBytes(s));
            _s.WriteByte(0);
        }

        public void LengthPrefixedString(string s)
        {
            U32((uint)Encoding.UTF8.GetByteCount(s) + 1);
            CString(s);
        }

        public void StringRecord(uint tag, string s) => Record(tag, r => r.CString(s));

        public void Record(uint tag, Action<PlanWriter> body)
        {
            var inner = new PlanWriter();
            body(inner);
            var payload = inner.ToArray();
            U32(tag);
            U32((uint)payload.Length);
            _s.Write(payload);
        }

        public byte[] ToArray() => _s.ToArray();
    }
}

/// <summary>
/// Setup steps, as the helper reports them. Same numbers as STEP_* in src/helper/plan.h; stable,
/// never renumbered or reused (systemd's exit-status.h rule).
/// </summary>
public enum SetupStep : uint
{
    StartHelper = 0,       // STEP_START_HELPER
    ReadPlan = 1,          // STEP_READ_PLAN
    Setsid = 2,            // STEP_SETSID
    CgroupJoin = 3,        // STEP_CGROUP_JOIN
    NetnsJoin = 4,         // STEP_NETNS_JOIN
    Unshare = 5,           // STEP_UNSHARE
    Clone = 6,             // STEP_CLONE
    UserNamespaceMap = 7,  // STEP_USERNS_MAP
    MountPrivate = 8,      // STEP_MOUNT_PRIVATE
    Mount = 9,             // STEP_MOUNT
    PivotRoot = 10,        // STEP_PIVOT_ROOT
    Hostname = 11,         // STEP_HOSTNAME
    Loopback = 12,         // STEP_LOOPBACK
    Rlimit = 13,           // STEP_RLIMIT
    CapabilityBounding = 14, // STEP_CAP_BOUNDING
    SecureBits = 15,       // STEP_SECUREBITS
    SetGroups = 16,        // STEP_SETGROUPS
    SetGid = 17,           // STEP_SETGID
    SetUid = 18,           // STEP_SETUID
    Capset = 19,           // STEP_CAPSET
    CapabilityAmbient = 20, // STEP_CAP_AMBIENT
    Chdir = 21,            // STEP_CHDIR
    NoNewPrivileges = 22,  // STEP_NO_NEW_PRIVS
    LsmNotEnabled = 23,    // STEP_LSM_NOT_ENABLED
    LsmExecLabel = 24,     // STEP_LSM_EXEC_LABEL
    Seccomp = 25,          // STEP_SECCOMP
    Exec = 26,             // STEP_EXEC
    ForkService = 27,      // STEP_FORK_SERVICE
    TimeNamespace = 28,    // STEP_TIME_NAMESPACE
    InitSignals = 29,      // STEP_INIT_SIGNALS
    Keyring = 30,          // STEP_KEYRING
    KeyringLinkUser = 31,  // STEP_KEYRING_LINK_USER
    Nice = 32,             // STEP_NICE
    Sched = 33,            // STEP_SCHED
    IoPriority = 34,       // STEP_IOPRIO
    OomScoreAdjust = 35,   // STEP_OOM_SCORE_ADJ
    SigPipe = 36,          // STEP_SIGPIPE
    Tty = 37,              // STEP_TTY
    ListenFds = 38,        // STEP_LISTEN_FDS
    LandlockRuleset = 39,  // STEP_LANDLOCK_RULESET
    LandlockPath = 40,     // STEP_LANDLOCK_PATH
    LandlockPort = 41,     // STEP_LANDLOCK_PORT
    LandlockRestrict = 42, // STEP_LANDLOCK_RESTRICT
    SeccompNotify = 43,    // STEP_SECCOMP_NOTIFY
}
