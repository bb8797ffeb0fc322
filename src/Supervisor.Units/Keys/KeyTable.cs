using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

/// <summary>How a drop-in combines its value with the one before it.</summary>
public enum MergeRule
{
    /// <summary>The later value replaces the earlier one.</summary>
    Replace,
    /// <summary>Arrays: replace, or append with <c>Key = { append = [...] }</c>.</summary>
    List,
    /// <summary>Tables (Environment, IO limits): merged key by key, later keys win.</summary>
    Table,
}

/// <summary>
/// What a change to a key does to a running unit: the reconciler (and <c>supervisor plan</c>)
/// acts on this column. systemd's behaviour is the reference where it has one. There is no
/// zero member: a row must say, and a test checks that every row holds a defined value.
/// </summary>
public enum ChangeEffect
{
    /// <summary>Written to the running unit at once (its cgroup's limits), no restart; as systemd's daemon-reload and set-property.</summary>
    ApplyLive = 1,
    /// <summary>Only a new process can honour it (what is exec'd, as whom, in which sandbox): a running unit is restarted.</summary>
    Restart,
    /// <summary>Used from the next time it is needed (the next start, stop, exit or command): the running process is left alone.</summary>
    NextUse,
    /// <summary>Takes effect when the units are reloaded (the description, the dependency graph): nothing is done to the process.</summary>
    Reload,
}

/// <summary>One row of the key table: a key of one section, its type, default, meaning and how it is set.</summary>
public abstract class KeySpec
{
    public required string Section { get; init; }
    public required string Name { get; init; }
    public required string Default { get; init; }
    public required string Description { get; init; }
    public bool ForSlices { get; init; }
    public MergeRule Merge { get; init; }
    /// <summary>What a change to this key does to a running unit.</summary>
    public required ChangeEffect OnChange { get; init; }

    public abstract string Type { get; }

    internal abstract UnitDefinition Apply(UnitDefinition unit, TomlValue value);

    /// <summary>The effective value as a <see cref="Plain"/> object, or null when it is not set.</summary>
    public abstract object? Get(UnitDefinition unit);
}

internal sealed class KeySpec<T>(IValueType<T> type, Func<UnitDefinition, T> get, Func<UnitDefinition, T, UnitDefinition> set) : KeySpec
{
    internal IValueType<T> ValueType => type;
    internal Func<UnitDefinition, T> Getter => get;
    internal Func<UnitDefinition, T, UnitDefinition> Setter => set;

    public override string Type => type.Describe;

    internal override UnitDefinition Apply(UnitDefinition unit, TomlValue value) => set(unit, type.Parse(value));

    public override object? Get(UnitDefinition unit)
    {
        var v = get(unit);
        return v is null ? null : type.ToPlain(v);
    }
}

/// <summary>
/// Every key a unit file may contain, one declarative row each (systemd's load-fragment-gperf).
/// The parser, <c>show</c>, and the README's reference all come from this table; a test checks
/// that the README documents exactly these keys.
/// </summary>
public static partial class KeyTable
{
    public const string UnitSection = "Unit";
    public const string ServiceSection = "Service";
    public const string ResourcesSection = "Resources";
    public const string SandboxSection = "Sandbox";

    public static readonly IReadOnlyList<string> Sections = [UnitSection, ServiceSection, ResourcesSection, SandboxSection, HealthSection];

    public static IReadOnlyList<string> SectionsFor(UnitKind kind) =>
        kind switch
        {
            UnitKind.Slice => [UnitSection, ResourcesSection],
            UnitKind.Target => [UnitSection],
            UnitKind.Socket => [UnitSection, SocketSection],
            _ => Sections,
        };

    // Declared before All: static fields initialise in order, and Build() reads this.
    private static readonly (string Name, bool Bytes, string Doc)[] RLimits =
    [
        ("LimitCPU", false, "CPU time in seconds (RLIMIT_CPU)"),
        ("LimitFSIZE", true, "largest file the service may create (RLIMIT_FSIZE)"),
        ("LimitDATA", true, "data segment size (RLIMIT_DATA)"),
        ("LimitSTACK", true, "stack size (RLIMIT_STACK)"),
        ("LimitCORE", true, "core dump size (RLIMIT_CORE)"),
        ("LimitRSS", true, "resident set size (RLIMIT_RSS; not enforced by Linux)"),
        ("LimitNOFILE", false, "open file descriptors (RLIMIT_NOFILE)"),
        ("LimitAS", true, "address space size (RLIMIT_AS)"),
        ("LimitNPROC", false, "processes of the service's user (RLIMIT_NPROC)"),
        ("LimitMEMLOCK", true, "locked memory (RLIMIT_MEMLOCK)"),
        ("LimitLOCKS", false, "file locks (RLIMIT_LOCKS)"),
        ("LimitSIGPENDING", false, "queued signals (RLIMIT_SIGPENDING)"),
        ("LimitMSGQUEUE", true, "POSIX message queue bytes (RLIMIT_MSGQUEUE)"),
        ("LimitNICE", false, "nice ceiling, 0–40 as in setrlimit(2) (RLIMIT_NICE)"),
        ("LimitRTPRIO", false, "real-time priority ceiling (RLIMIT_RTPRIO)"),
        ("LimitRTTIME", false, "real-time CPU time in microseconds (RLIMIT_RTTIME)"),
    ];

    public static readonly IReadOnlyList<KeySpec> All = Build();

    private static readonly Dictionary<(string, string), KeySpec> ByName =
        All.ToDictionary(k => (k.Section, k.Name));

    public static KeySpec? Find(string section, string key) => ByName.GetValueOrDefault((section, key));

    public static IEnumerable<KeySpec> InSection(string section) => All.Where(k => k.Section == section);

    private static KeySpec<T> U<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<UnitSection, T> get, Func<UnitSection, T, UnitSection> set,
        string @default, string doc, MergeRule merge = MergeRule.Replace) =>
        new(type, u => get(u.Unit), (u, v) => u with { Unit = set(u.Unit, v) })
        { Section = UnitSection, Name = name, OnChange = onChange, Default = @default, Description = doc, ForSlices = true, Merge = merge };

    private static KeySpec<T> S<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<ServiceSection, T> get, Func<ServiceSection, T, ServiceSection> set,
        string @default, string doc, MergeRule merge = MergeRule.Replace) =>
        new(type, u => get(u.Service), (u, v) => u with { Service = set(u.Service, v) })
        { Section = ServiceSection, Name = name, OnChange = onChange, Default = @default, Description = doc, Merge = merge };

    private static KeySpec<T> R<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<ResourcesSection, T> get, Func<ResourcesSection, T, ResourcesSection> set,
        string @default, string doc, MergeRule merge = MergeRule.Replace) =>
        new(type, u => get(u.Resources), (u, v) => u with { Resources = set(u.Resources, v) })
        { Section = ResourcesSection, Name = name, OnChange = onChange, Default = @default, Description = doc, ForSlices = true, Merge = merge };

    private static KeySpec<T> X<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<SandboxSection, T> get, Func<SandboxSection, T, SandboxSection> set,
        string @default, string doc, MergeRule merge = MergeRule.Replace) =>
        new(type, u => get(u.Sandbox), (u, v) => u with { Sandbox = set(u.Sandbox, v) })
        { Section = SandboxSection, Name = name, OnChange = onChange, Default = @default, Description = doc, Merge = merge };

    private static KeySpec<T?> SN<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<ServiceSection, T?> get, Func<ServiceSection, T?, ServiceSection> set,
        string @default, string doc) where T : class =>
        S(name, onChange, new Nullable<T>(type), get, set, @default, doc);

    private static KeySpec<T?> RN<T>(string name, ChangeEffect onChange, IValueType<T> type, Func<ResourcesSection, T?> get, Func<ResourcesSection, T?, ResourcesSection> set,
        string doc) where T : struct =>
        R(name, onChange, new NullableStruct<T>(type), get, set, "not set", doc);

    private sealed class Nullable<T>(IValueType<T> inner) : IValueType<T?> where T : class
    {
        public string Describe => inner.Describe;
        public T? Parse(TomlValue value) => inner.Parse(value);
        public object ToPlain(T? value) => inner.ToPlain(value!);
    }

    private sealed class NullableStruct<T>(IValueType<T> inner) : IValueType<T?> where T : struct
    {
        public string Describe => inner.Describe;
        public T? Parse(TomlValue value) => inner.Parse(value);
        public object ToPlain(T? value) => inner.ToPlain(value!.Value);
    }

    /// <summary>setrlimit() happens before execve: a new limit needs a new process (systemd: the next start).</summary>
    private static KeySpec RLimitKey(string name, bool bytes, string doc) => S(name, Restart, new Nullable<RLimit>(V.RLimit(bytes)),
        s => s.Limits.FirstOrDefault(kv => kv.Key == name).Value,
        (s, v) => s with { Limits = new ValueList<KeyValuePair<string, RLimit>>(s.Limits.Where(kv => kv.Key != name).Append(new(name, v!)).OrderBy(kv => kv.Key, StringComparer.Ordinal)) },
        "inherited", doc);

    private static List<KeySpec> Build() =>
        [
            .. UnitKeys(), .. LifecycleKeys(), .. ServiceKeys(), .. ResourcesKeys(), .. DeviceNetworkKeys(), .. SandboxKeys(),
            .. KernelSurfaceKeys(), .. LandlockKeys(), .. NamespaceKeys(), .. IdentityKeys(), .. ExecKeys(), .. DirectoriesKeys(), .. ConditionKeys(), .. ProcessKeys(), .. SocketKeys(), .. HealthKeys(), .. RLimits.Select(l => RLimitKey(l.Name, l.Bytes, l.Doc)),
        ];

    /// <summary>[Unit]: read again at every reload (the description, the dependency graph); systemd's daemon-reload does the same.</summary>
    private static IEnumerable<KeySpec> UnitKeys() =>
    [
        U("Description", Reload, V.String, u => u.Description, (u, v) => u with { Description = v }, "\"\"", "one line that says what the unit is"),
        U("Documentation", Reload, V.StringList, u => u.Documentation, (u, v) => u with { Documentation = v }, "[]", "URLs or man pages about the unit", MergeRule.List),
        U("Requires", Reload, V.UnitNameList, u => u.Requires, (u, v) => u with { Requires = v }, "[]", "units started with this one; if one fails to start or stops, this one stops too", MergeRule.List),
        U("Wants", Reload, V.UnitNameList, u => u.Wants, (u, v) => u with { Wants = v }, "[]", "units started with this one; their failure does not affect it", MergeRule.List),
        U("After", Reload, V.UnitNameList, u => u.After, (u, v) => u with { After = v }, "[]", "start after these units are up (and stop before them)", MergeRule.List),
        U("Before", Reload, V.UnitNameList, u => u.Before, (u, v) => u with { Before = v }, "[]", "start before these units (and stop after them)", MergeRule.List),
        U("BindsTo", Reload, V.UnitNameList, u => u.BindsTo, (u, v) => u with { BindsTo = v }, "[]", "like Requires, and this unit also stops whenever one of them stops for any reason", MergeRule.List),
        U("PartOf", Reload, V.UnitNameList, u => u.PartOf, (u, v) => u with { PartOf = v }, "[]", "stop and restart of these units is propagated to this one", MergeRule.List),
        U("Requisite", Reload, V.UnitNameList, u => u.Requisite, (u, v) => u with { Requisite = v }, "[]", "units that must already be active (or activating: the start waits) when this one starts; they are never started for it, and the start fails with result 'dependency' when one is not up; stopping one by request stops this one, as with Requires", MergeRule.List),
        U("StopWhenUnneeded", Reload, V.Bool, u => u.StopWhenUnneeded, (u, v) => u with { StopWhenUnneeded = v }, "false", "stop this unit as soon as no active or starting unit has it in Requires, Wants, BindsTo or Requisite; not started by the units directory on its own, only pulled in by a unit that needs it (or `supervisor start`, after which it stops again unless something needs it), as systemd"),
        U("Conflicts", Reload, V.UnitNameList, u => u.Conflicts, (u, v) => u with { Conflicts = v }, "[]", "starting this unit stops these, and the other way round", MergeRule.List),
        U("PropagatesReloadTo", Reload, V.UnitNameList, u => u.PropagatesReloadTo, (u, v) => u with { PropagatesReloadTo = v }, "[]", "units reloaded when this one is reloaded (those running and able to reload; transitively), as systemd does", MergeRule.List),
        U("ReloadPropagatedFrom", Reload, V.UnitNameList, u => u.ReloadPropagatedFrom, (u, v) => u with { ReloadPropagatedFrom = v }, "[]", "units whose reload also reloads this one (the reverse of PropagatesReloadTo)", MergeRule.List),
    ];

    /// <summary>
    /// [Service]: what is exec'd, as whom and where takes a new process; how the process is
    /// supervised (restart policy, timeouts, kill, the other commands) is read when it is next needed.
    /// </summary>
    private static IEnumerable<KeySpec> ServiceKeys()
    {
        var serviceType = V.Enum(("simple", ServiceType.Simple), ("exec", ServiceType.Exec), ("notify", ServiceType.Notify),
            ("oneshot", ServiceType.Oneshot), ("forking", ServiceType.Forking), ("idle", ServiceType.Idle), ("dbus", ServiceType.Dbus));
        var restart = V.Enum(("no", RestartPolicy.No), ("on-success", RestartPolicy.OnSuccess), ("on-failure", RestartPolicy.OnFailure),
            ("on-abnormal", RestartPolicy.OnAbnormal), ("on-watchdog", RestartPolicy.OnWatchdog), ("on-abort", RestartPolicy.OnAbort),
            ("always", RestartPolicy.Always));
        var killMode = V.Enum(("control-group", KillMode.ControlGroup), ("mixed", KillMode.Mixed), ("process", KillMode.Process));
        return
        [
            S("Type", Restart, serviceType, s => s.Type, (s, v) => s with { Type = v }, "\"simple\"", "when the service counts as started: simple (spawned), exec (execve succeeded), notify (sent READY=1), oneshot (exited 0), forking (parent exited), idle (as simple, spawned once no other unit is starting, at most 5s later), dbus (BusName has an owner on the system bus)"),
            SN("ExecStart", Restart, V.ExecStartLines, s => s.ExecStart is null ? null : [.. s.ExecStartLines],
                (s, v) => s with { ExecStart = v?[0], ExecStartMore = v is null ? [] : [.. v.Skip(1)] }, "required",
                "the command, as an argv array (no shell); a bare program name is looked up in systemd's search path when the unit is loaded; " +
                "systemd's prefixes on the program: \"-\" ignores its exit status, \"@\" makes the second element argv[0], \":\" turns off $VAR expansion, " +
                "\"+\" runs it with full privileges (no sandbox, as root, still in the unit's cgroup), \"!\" runs it as root in the sandbox, " +
                "\"!!\" is no prefix on this kernel (it has ambient capabilities); $VAR, ${VAR} and $$ are expanded as in systemd. " +
                "Type=oneshot may have several commands, as an array of commands, run in order"),
            S("ExecStartPre", NextUse, V.CommandList, s => s.ExecStartPre, (s, v) => s with { ExecStartPre = v }, "[]", "commands run in order before ExecStart; a failing one fails the start unless prefixed \"-\"", MergeRule.List),
            S("ExecStartPost", NextUse, V.CommandList, s => s.ExecStartPost, (s, v) => s with { ExecStartPost = v }, "[]", "commands run after the service is started", MergeRule.List),
            S("ExecReload", NextUse, V.CommandList, s => s.ExecReload, (s, v) => s with { ExecReload = v }, "[]", "commands that make the service reload its configuration", MergeRule.List),
            S("ExecStop", NextUse, V.CommandList, s => s.ExecStop, (s, v) => s with { ExecStop = v }, "[]", "commands that stop the service; KillSignal follows for what remains", MergeRule.List),
            S("ExecStopPost", NextUse, V.CommandList, s => s.ExecStopPost, (s, v) => s with { ExecStopPost = v }, "[]", "commands run after the service stopped, also after a failure", MergeRule.List),
            S("RemainAfterExit", NextUse, V.Bool, s => s.RemainAfterExit, (s, v) => s with { RemainAfterExit = v }, "false", "a oneshot stays active after its command exits"),
            SN("PIDFile", Restart, V.AbsolutePath, s => s.PIDFile, (s, v) => s with { PIDFile = v }, "not set", "Type=forking: the file where the daemon writes its main PID"),
            S("Restart", NextUse, restart, s => s.Restart, (s, v) => s with { Restart = v }, "\"no\"", "when to restart after the service exits, per systemd's Restart= table"),
            S("RestartSec", NextUse, V.Duration, s => s.RestartSec, (s, v) => s with { RestartSec = v }, "\"100ms\"", "delay before a restart (the first step of the backoff)"),
            S("RestartSteps", NextUse, V.Int(0, 2000), s => s.RestartSteps, (s, v) => s with { RestartSteps = v }, "0", "number of steps of exponential backoff from RestartSec to RestartMaxDelaySec (0: no backoff)"),
            S("RestartMaxDelaySec", NextUse, V.Duration, s => s.RestartMaxDelaySec, (s, v) => s with { RestartMaxDelaySec = v }, "\"infinity\"", "the longest restart delay the backoff reaches"),
            S("RestartResetSec", NextUse, V.Duration, s => s.RestartResetSec, (s, v) => s with { RestartResetSec = v }, "\"infinity\"", "after the service has stayed up this long, the backoff starts again from RestartSec (systemd never resets it)"),
            S("RestartJitter", NextUse, V.PercentIn(0, 100_00), s => s.RestartJitter, (s, v) => s with { RestartJitter = v }, "\"0%\"", "random extra delay, up to this share of the restart delay, so many units do not restart in lockstep"),
            S("StartLimitIntervalSec", NextUse, V.Duration, s => s.StartLimitIntervalSec, (s, v) => s with { StartLimitIntervalSec = v }, "\"10s\"", "window for StartLimitBurst (0 disables the limit)"),
            S("StartLimitBurst", NextUse, V.Int(1, 100000), s => s.StartLimitBurst, (s, v) => s with { StartLimitBurst = v }, "5", "more starts than this within StartLimitIntervalSec put the unit in failed (start-limit-hit) until reset-failed"),
            S("SuccessExitStatus", NextUse, V.ExitStatuses, s => s.SuccessExitStatus, (s, v) => s with { SuccessExitStatus = v }, "[]", "exit codes and signals counted as success besides 0, SIGHUP, SIGINT, SIGTERM, SIGPIPE", MergeRule.List),
            S("RestartPreventExitStatus", NextUse, V.ExitStatuses, s => s.RestartPreventExitStatus, (s, v) => s with { RestartPreventExitStatus = v }, "[]", "exit codes and signals that never cause a restart", MergeRule.List),
            S("RestartForceExitStatus", NextUse, V.ExitStatuses, s => s.RestartForceExitStatus, (s, v) => s with { RestartForceExitStatus = v }, "[]", "exit codes and signals that always cause a restart", MergeRule.List),
            S("TimeoutStartSec", NextUse, Timeout, s => s.TimeoutStartSec, (s, v) => s with { TimeoutStartSec = v }, "\"90s\"", "how long starting may take before the unit fails with result timeout; 0 or \"infinity\": no limit (systemd's meaning)"),
            S("TimeoutStopSec", NextUse, Timeout, s => s.TimeoutStopSec, (s, v) => s with { TimeoutStopSec = v }, "\"90s\"", "how long stopping may take before SIGKILL; 0 or \"infinity\": no limit, never SIGKILL (systemd's meaning)"),
            S("WatchdogSec", Restart, V.Duration, s => s.WatchdogSec, (s, v) => s with { WatchdogSec = v }, "\"0\"", "the service must send WATCHDOG=1 at least this often (0: off)"),
            S("KillMode", NextUse, killMode, s => s.KillMode, (s, v) => s with { KillMode = v }, "\"control-group\"", "which processes are signalled on stop: the whole cgroup, the main process then the rest (mixed), or the main process only"),
            S("KillSignal", NextUse, V.Signal, s => s.KillSignal, (s, v) => s with { KillSignal = v }, "\"SIGTERM\"", "the signal that asks the service to stop"),
            S("SendSIGKILL", NextUse, V.Bool, s => s.SendSIGKILL, (s, v) => s with { SendSIGKILL = v }, "true", "send SIGKILL to what remains after TimeoutStopSec"),
            SN("User", Restart, V.String, s => s.User, (s, v) => s with { User = v }, "root", "user name or numeric uid the service runs as"),
            SN("Group", Restart, V.String, s => s.Group, (s, v) => s with { Group = v }, "the user's group", "group name or numeric gid"),
            S("SupplementaryGroups", Restart, V.StringList, s => s.SupplementaryGroups, (s, v) => s with { SupplementaryGroups = v }, "[]", "extra groups", MergeRule.List),
            SN("WorkingDirectory", Restart, V.OptionalAbsolutePath, s => s.WorkingDirectory, (s, v) => s with { WorkingDirectory = v }, "/", "the service's current directory (\"-\" prefix: may be missing)"),
            S("Environment", Restart, V.Environment, s => s.Environment, (s, v) => s with { Environment = v }, "{}", "environment variables, as a table", MergeRule.Table),
            S("EnvironmentFile", Restart, V.OptionalPathList, s => s.EnvironmentFile, (s, v) => s with { EnvironmentFile = v }, "[]", "files of NAME=value lines read at start (\"-\" prefix: may be missing)", MergeRule.List),
            S("Slice", Restart, new Nullable<string>(V.SliceName), s => s.Slice, (s, v) => s with { Slice = v }, "not set (top level)", "the slice whose cgroup contains this unit's, declared in NAME.slice.toml"),
        ];
    }

    /// <summary>[Resources]: cgroup limits, written into the running unit's cgroup.</summary>
    private static IEnumerable<KeySpec> ResourcesKeys()
    {
        var anyPercent = V.PercentIn(1, 100_000_00);
        var weight = V.Int(1, 10000);
        return
        [
            RN("MemoryMax", ApplyLive, V.Size, r => r.MemoryMax, (r, v) => r with { MemoryMax = v }, "hard memory limit; the OOM killer acts above it (memory.max; v1 memory.limit_in_bytes)"),
            RN("MemoryHigh", ApplyLive, V.Size, r => r.MemoryHigh, (r, v) => r with { MemoryHigh = v }, "throttling threshold (memory.high; cgroup v2 only)"),
            RN("MemoryLow", ApplyLive, V.Size, r => r.MemoryLow, (r, v) => r with { MemoryLow = v }, "best-effort memory protection (memory.low; v1 memory.soft_limit_in_bytes)"),
            RN("MemoryMin", ApplyLive, V.Size, r => r.MemoryMin, (r, v) => r with { MemoryMin = v }, "hard memory protection (memory.min; cgroup v2 only)"),
            RN("MemorySwapMax", ApplyLive, V.Size, r => r.MemorySwapMax, (r, v) => r with { MemorySwapMax = v }, "swap limit (memory.swap.max; v1 memory.memsw.limit_in_bytes = MemoryMax + this)"),
            RN("CPUQuota", ApplyLive, anyPercent, r => r.CPUQuota, (r, v) => r with { CPUQuota = v }, "CPU time per period as a share of one CPU; above 100% uses several (cpu.max; v1 cpu.cfs_quota_us)"),
            R("CPUQuotaPeriodSec", ApplyLive, V.Duration, r => r.CPUQuotaPeriodSec, (r, v) => r with { CPUQuotaPeriodSec = v }, "\"100ms\"", "the period CPUQuota is measured over (1ms to 1s)"),
            RN("CPUWeight", ApplyLive, weight, r => r.CPUWeight, (r, v) => r with { CPUWeight = v }, "relative CPU share 1–10000, 100 is the default (cpu.weight; v1 cpu.shares as systemd converts it)"),
            R("AllowedCPUs", ApplyLive, new Nullable<string>(V.CpuSet), r => r.AllowedCPUs, (r, v) => r with { AllowedCPUs = v }, "not set", "CPUs the unit may run on (cpuset.cpus)"),
            R("AllowedMemoryNodes", ApplyLive, new Nullable<string>(V.CpuSet), r => r.AllowedMemoryNodes, (r, v) => r with { AllowedMemoryNodes = v }, "not set", "NUMA memory nodes the unit may use (cpuset.mems)"),
            RN("TasksMax", ApplyLive, V.TaskCount, r => r.TasksMax, (r, v) => r with { TasksMax = v }, "most processes and threads (pids.max)"),
            RN("IOWeight", ApplyLive, weight, r => r.IOWeight, (r, v) => r with { IOWeight = v }, "relative IO share 1–10000 (io.weight; v1 blkio.weight)"),
            R("IOReadBandwidthMax", ApplyLive, V.DeviceLimits(bytes: true), r => r.IOReadBandwidthMax, (r, v) => r with { IOReadBandwidthMax = v }, "{}", "read bytes per second per device (io.max rbps; v1 blkio.throttle.read_bps_device)", MergeRule.Table),
            R("IOWriteBandwidthMax", ApplyLive, V.DeviceLimits(bytes: true), r => r.IOWriteBandwidthMax, (r, v) => r with { IOWriteBandwidthMax = v }, "{}", "write bytes per second per device (io.max wbps; v1 blkio.throttle.write_bps_device)", MergeRule.Table),
            R("IOReadIOPSMax", ApplyLive, V.DeviceLimits(bytes: false), r => r.IOReadIOPSMax, (r, v) => r with { IOReadIOPSMax = v }, "{}", "read operations per second per device (io.max riops; v1 blkio.throttle.read_iops_device)", MergeRule.Table),
            R("IOWriteIOPSMax", ApplyLive, V.DeviceLimits(bytes: false), r => r.IOWriteIOPSMax, (r, v) => r with { IOWriteIOPSMax = v }, "{}", "write operations per second per device (io.max wiops; v1 blkio.throttle.write_iops_device)", MergeRule.Table),
        ];
    }

    /// <summary>[Sandbox]: set up before execve, so every change needs a new process.</summary>
    private static IEnumerable<KeySpec> SandboxKeys() =>
    [
        X("Namespaces", Restart, V.Namespaces, x => x.Namespaces, (x, v) => x with { Namespaces = v }, "[]", "new namespaces: pid (own /proc), net (only loopback), mount, ipc, uts, user (root inside maps to an unprivileged host uid), cgroup, time", MergeRule.List),
        X("NetworkNamespacePath", Restart, new Nullable<string>(V.AbsolutePath), x => x.NetworkNamespacePath, (x, v) => x with { NetworkNamespacePath = v }, "not set", "join this existing network namespace (e.g. /run/netns/pod1) so units can share a network"),
        X("Hostname", Restart, new Nullable<string>(V.Hostname), x => x.Hostname, (x, v) => x with { Hostname = v }, "not set", "hostname inside the unit's uts namespace (needs \"uts\" in Namespaces)"),
        X("CapabilityBoundingSet", Restart, new Nullable<CapabilitySet>(V.CapabilitySet), x => x.CapabilityBoundingSet, (x, v) => x with { CapabilityBoundingSet = v }, "all", "capabilities the service can ever have; \"~\" on the first entry makes it a list to drop"),
        X("AmbientCapabilities", Restart, V.CapabilityList, x => x.AmbientCapabilities, (x, v) => x with { AmbientCapabilities = v }, "[]", "capabilities a non-root User keeps across execve (must be in the bounding set)", MergeRule.List),
        X("NoNewPrivileges", Restart, V.Bool, x => x.NoNewPrivileges, (x, v) => x with { NoNewPrivileges = v }, "false", "setuid binaries and file capabilities grant nothing (implied by SystemCallFilter for a non-root user)"),
        X("SecureBits", Restart, V.SecureBits, x => x.SecureBits, (x, v) => x with { SecureBits = v }, "[]", "securebits: keep-caps, no-setuid-fixup, noroot and their -locked forms", MergeRule.List),
        X("SystemCallFilter", Restart, new Nullable<SyscallFilter>(V.SyscallFilter), x => x.SystemCallFilter, (x, v) => x with { SystemCallFilter = v }, "not set", "seccomp filter: allowed system calls and @groups (as `systemd-analyze syscall-filter` lists them); a first entry starting with \"~\" makes it a deny list"),
        X("SystemCallErrorNumber", Restart, new NullableErrno(), x => x.SystemCallErrorNumber, (x, v) => x with { SystemCallErrorNumber = v }, "\"kill\"", "what a filtered call gets: an errno name, or \"kill\" (the process is killed)"),
        X("SystemCallFilterMode", Restart, V.Enum(("enforce", SyscallFilterMode.Enforce), ("learn", SyscallFilterMode.Learn)), x => x.SystemCallFilterMode, (x, v) => x with { SystemCallFilterMode = v }, "\"enforce\"", "\"learn\": every call is allowed, and each one outside SystemCallFilter (an allow list; without it, outside @default) is recorded for `supervisor security --suggest`"),
        X("SystemCallArchitectures", Restart, V.Architectures, x => x.SystemCallArchitectures, (x, v) => x with { SystemCallArchitectures = v }, "[] (all)", "ABIs allowed to make system calls; \"native\" kills i386 and x32 calls on x86-64", MergeRule.List),
        X("SystemCallLog", Restart, V.SyscallList, x => x.SystemCallLog, (x, v) => x with { SystemCallLog = v }, "[]", "system calls and @groups that are logged by the kernel's audit when called", MergeRule.List),
        X("SeccompProfile", Restart, new Nullable<string>(V.AbsolutePath), x => x.SeccompProfile, (x, v) => x with { SeccompProfile = v }, "not set", "an OCI/Docker seccomp JSON profile, e.g. contrib/seccomp/default.json"),
        X("AppArmorProfile", Restart, new Nullable<OptionalLabel>(V.Lsm), x => x.AppArmorProfile, (x, v) => x with { AppArmorProfile = v }, "not set", "AppArmor profile to exec into; starting fails when AppArmor is off, unless prefixed \"-\""),
        X("SELinuxContext", Restart, new Nullable<OptionalLabel>(V.Lsm), x => x.SELinuxContext, (x, v) => x with { SELinuxContext = v }, "not set", "SELinux context to exec into; starting fails when SELinux is off, unless prefixed \"-\""),
        X("ProtectSystem", Restart, V.BoolOrEnum(ProtectSystem.No, ProtectSystem.Yes, ("full", ProtectSystem.Full), ("strict", ProtectSystem.Strict)), x => x.ProtectSystem, (x, v) => x with { ProtectSystem = v }, "false", "true: /usr, /boot, /efi read-only; \"full\": also /etc; \"strict\": the whole file system except /dev, /proc, /sys and ReadWritePaths"),
        X("ProtectHome", Restart, V.BoolOrEnum(ProtectHome.No, ProtectHome.Yes, ("read-only", ProtectHome.ReadOnly), ("tmpfs", ProtectHome.Tmpfs)), x => x.ProtectHome, (x, v) => x with { ProtectHome = v }, "false", "true: /home, /root, /run/user inaccessible; \"read-only\"; \"tmpfs\": empty"),
        X("PrivateTmp", Restart, V.Bool, x => x.PrivateTmp, (x, v) => x with { PrivateTmp = v }, "false", "a private, empty /tmp and /var/tmp"),
        X("PrivateDevices", Restart, V.Bool, x => x.PrivateDevices, (x, v) => x with { PrivateDevices = v }, "false", "a minimal /dev: null, zero, full, random, urandom, tty, pts, shm; as in systemd also no CAP_MKNOD or CAP_SYS_RAWIO, @raw-io refused, and DevicePolicy \"auto\" becomes \"closed\" (v1 devices controller, v2 device program)"),
        X("ReadWritePaths", Restart, V.OptionalPathList, x => x.ReadWritePaths, (x, v) => x with { ReadWritePaths = v }, "[]", "paths left writable inside a read-only view", MergeRule.List),
        X("ReadOnlyPaths", Restart, V.OptionalPathList, x => x.ReadOnlyPaths, (x, v) => x with { ReadOnlyPaths = v }, "[]", "paths made read-only", MergeRule.List),
        X("InaccessiblePaths", Restart, V.OptionalPathList, x => x.InaccessiblePaths, (x, v) => x with { InaccessiblePaths = v }, "[]", "paths made inaccessible", MergeRule.List),
        X("BindPaths", Restart, V.BindList, x => x.BindPaths, (x, v) => x with { BindPaths = v }, "[]", "bind mounts \"source[:destination[:norbind]]\"", MergeRule.List),
        X("BindReadOnlyPaths", Restart, V.BindList, x => x.BindReadOnlyPaths, (x, v) => x with { BindReadOnlyPaths = v }, "[]", "read-only bind mounts", MergeRule.List),
        X("RootDirectory", Restart, new Nullable<string>(V.AbsolutePath), x => x.RootDirectory, (x, v) => x with { RootDirectory = v }, "not set", "run with this directory as / (pivot_root, never chroot)"),
        X("ProtectKernelTunables", Restart, V.Bool, x => x.ProtectKernelTunables, (x, v) => x with { ProtectKernelTunables = v }, "false", "/proc/sys, /sys and similar kernel knobs read-only"),
        X("ProtectControlGroups", Restart, V.Bool, x => x.ProtectControlGroups, (x, v) => x with { ProtectControlGroups = v }, "false", "/sys/fs/cgroup read-only"),
        X("ProtectProc", Restart, V.Enum(("default", ProtectProc.Default), ("invisible", ProtectProc.Invisible), ("noaccess", ProtectProc.Noaccess), ("ptraceable", ProtectProc.Ptraceable)), x => x.ProtectProc, (x, v) => x with { ProtectProc = v }, "\"default\"", "hide other users' processes in /proc (hidepid)"),
    ];

    /// <summary>
    /// A timeout as systemd reads TimeoutStartSec/TimeoutStopSec: 0 disables it, as "infinity" does
    /// (Debian's redis unit has TimeoutStopSec=0 so that its final save is never cut short).
    /// </summary>
    private static IValueType<Duration> Timeout => new ZeroIsInfinity(V.Duration);

    private sealed class ZeroIsInfinity(IValueType<Duration> inner) : IValueType<Duration>
    {
        public string Describe => inner.Describe + "; 0 means no limit";
        public Duration Parse(TomlValue value)
        {
            var d = inner.Parse(value);
            return d == Duration.Zero ? Duration.Infinity : d;
        }
        public object ToPlain(Duration value) => inner.ToPlain(value);
    }

    private sealed class NullableErrno : IValueType<int?>
    {
        public string Describe => V.ErrnoOrKill.Describe;
        public int? Parse(TomlValue value) => V.ErrnoOrKill.Parse(value);
        public object ToPlain(int? value) => V.ErrnoOrKill.ToPlain(value);
    }
}
