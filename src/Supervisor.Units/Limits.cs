namespace Supervisor.Units;

/// <summary>
/// Every count or size that comes from a unit file has its limit here, in one place.
/// A unit file is operator input, but it is also parsed by tools (check, show) run on files of
/// unknown origin, so nothing in it may make the parser use unbounded memory, stack or time.
/// The exec plan's limits are here too (<see cref="PlanMaxArgs"/> …): the sandbox's
/// HelperProtocol reads them from this class, and the unit-file rules below are derived from
/// them, so <c>check</c> can never accept a unit whose plan the helper would refuse.
/// </summary>
public static class Limits
{
    // ── Reading a file ───────────────────────────────────────────────────────────────────────

    /// <summary>Largest unit file or drop-in read. Real units are a few KiB.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    /// <summary>Deepest nesting of arrays and inline tables. The schema needs 2 (ExecStartPre).</summary>
    public const int MaxNestingDepth = 16;

    /// <summary>
    /// Most keys in one table: a [Section] (dotted keys included) or one inline table. Room for
    /// the largest Environment a plan takes (<see cref="MaxEnvironmentEntries"/>), written as
    /// dotted keys in [Service], beside every other [Service] key.
    /// </summary>
    public const int MaxKeysPerTable = PlanMaxEnv + 256;

    /// <summary>Most keys and table headers in one file, counted before the TOML parser sees it.</summary>
    public const int MaxKeysPerFile = 2 * MaxKeysPerTable;

    /// <summary>Most unit files (including slices) loaded from one directory.</summary>
    public const int MaxUnits = 10_000;

    /// <summary>Most drop-ins merged over one unit.</summary>
    public const int MaxDropIns = 256;

    /// <summary>
    /// Largest FileDescriptorStoreMax: the helper passes at most PLAN_MAX_LISTEN_FDS (8192)
    /// descriptors to a main process, the socket units' and the stored ones together (Debian's
    /// systemd-journald asks for 4224).
    /// </summary>
    public const int MaxFileDescriptorStore = 8192;

    /// <summary>
    /// Largest MaxConnections/MaxConnectionsPerSource of an Accept=yes socket unit: each connection
    /// is a unit with a cgroup and a few descriptors in the supervisor (systemd takes any unsigned).
    /// </summary>
    public const int MaxConnections = 8192;

    /// <summary>Longest unit name, as systemd's UNIT_NAME_MAX.</summary>
    public const int MaxUnitNameLength = 255;

    /// <summary>Most symbolic links followed to reach a unit file, as the kernel's MAXSYMLINKS.</summary>
    public const int MaxSymlinks = 40;

    // ── The exec plan (src/helper/plan.h; Supervisor.Sandbox.HelperProtocol reads these) ─────

    /// <summary>PLAN_MAX_BYTES: the largest plan the helper reads.</summary>
    public const uint PlanMaxBytes = 4u * 1024u * 1024u;

    /// <summary>PLAN_MAX_ARGS: most argv entries, argv[0] included.</summary>
    public const int PlanMaxArgs = 4096;

    /// <summary>PLAN_MAX_ENV: most environment entries.</summary>
    public const int PlanMaxEnv = 4096;

    /// <summary>PLAN_MAX_GROUPS: most supplementary groups.</summary>
    public const int PlanMaxGroups = 256;

    /// <summary>PLAN_MAX_MOUNTS: most mount operations.</summary>
    public const int PlanMaxMounts = 1024;

    /// <summary>PLAN_MAX_RLIMITS: most resource limits (one per Limit* key).</summary>
    public const int PlanMaxRlimits = 16;

    /// <summary>PLAN_MAX_CGROUPS: most cgroup.procs files the helper joins (one per v1 hierarchy; not from a unit file).</summary>
    public const int PlanMaxCgroups = 32;

    /// <summary>PLAN_MAX_LANDLOCK_RULES: most Landlock rules, the paths and ports of the Landlock keys together.</summary>
    public const int PlanMaxLandlockRules = 1024;

    // ── What a unit may put into one plan (derived from the plan's limits) ───────────────────

    /// <summary>Most arguments in one command line.</summary>
    public const int MaxArguments = PlanMaxArgs;

    /// <summary>Most entries in any list-valued key.</summary>
    public const int MaxListEntries = 4096;

    /// <summary>
    /// Environment variables the supervisor may set itself besides the unit's (PATH, USER,
    /// LOGNAME, HOME, SHELL, NOTIFY_SOCKET, WATCHDOG_USEC: 7 today), kept free in the plan.
    /// </summary>
    public const int SupervisorEnvironmentReserve = 16;

    /// <summary>Most entries in Environment.</summary>
    public const int MaxEnvironmentEntries = PlanMaxEnv - SupervisorEnvironmentReserve;

    /// <summary>Most SupplementaryGroups (the groups /etc/group adds for the User count at start).</summary>
    public const int MaxSupplementaryGroups = PlanMaxGroups;

    /// <summary>
    /// Mount operations the sandbox compiler may add on its own (mount points of a new root,
    /// ProtectSystem, ProtectHome, /proc, /dev, /sys, PrivateTmp, ProtectKernelTunables,
    /// ProtectControlGroups, /dev/mqueue, the notify socket, pivot_root: 29 at most today), kept
    /// free in the plan.
    /// </summary>
    public const int SandboxMountReserve = 32;

    /// <summary>Most entries of ReadWritePaths, ReadOnlyPaths, InaccessiblePaths, BindPaths, BindReadOnlyPaths, NoExecPaths, ExecPaths and TemporaryFileSystem together.</summary>
    public const int MaxPathMounts = PlanMaxMounts - SandboxMountReserve;

    /// <summary>
    /// Longest single argument or "NAME=value" environment entry, in bytes: the kernel's
    /// MAX_ARG_STRLEN (32 pages) less the NUL; execve fails with E2BIG beyond it.
    /// </summary>
    public const int MaxArgumentBytes = 32 * 4096 - 1;

    /// <summary>Longest path in bytes, RootDirectory included: PATH_MAX less the NUL (longer ones fail with ENAMETOOLONG).</summary>
    public const int MaxPathBytes = 4095;

    /// <summary>Longest hostname, as the kernel's __NEW_UTS_LEN.</summary>
    public const int MaxHostnameLength = 64;

    /// <summary>Longest AppArmor profile or SELinux context, in bytes.</summary>
    public const int MaxLabelBytes = 4095;

    /// <summary>
    /// Bytes of one command's argv, each string with its NUL. With <see cref="MaxEnvironmentBytes"/>
    /// and <see cref="MaxMountPathBytes"/> a unit fills at most 1.5 MiB of a plan, and the rest of
    /// <see cref="PlanMaxBytes"/> stays for what the supervisor adds (EnvironmentFile, the seccomp
    /// program, cgroup files, record headers). argv and environment together also stay below the
    /// kernel's usual ARG_MAX (a quarter of the 8 MiB default stack).
    /// </summary>
    public const int MaxCommandBytes = 512 * 1024;

    /// <summary>Bytes of the Environment, each "NAME=value" with its NUL.</summary>
    public const int MaxEnvironmentBytes = 512 * 1024;

    /// <summary>Bytes of the paths in the mount lists together (each with its NUL and the RootDirectory it is placed under).</summary>
    public const int MaxMountPathBytes = 512 * 1024;

    /// <summary>
    /// Bytes of one unit's credentials together (LoadCredential files and SetCredential values),
    /// systemd's CREDENTIALS_TOTAL_SIZE_MAX: "an accumulated credential size limit of 1 MB per unit".
    /// </summary>
    public const int MaxCredentialBytes = 1024 * 1024;
}
