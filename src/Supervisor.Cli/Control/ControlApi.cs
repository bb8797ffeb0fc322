using Supervisor.Cgroups;
using Supervisor.DBus;
using Supervisor.Supervision;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Control;

/// <summary>
/// Where the daemon keeps what clients need to find on their own: the unit files (for `show`,
/// `exec` and `inspect`), the unit logs (for `status` and `logs`), and the cgroup subtree its
/// units live in (as given to CgroupDriver.Create, a systemd delegation prefix included).
/// </summary>
public sealed record ControlApiPaths(string UnitsDirectory, string StateDirectory, string LogDirectory, string CgroupRoot);

/// <summary>
/// The control API on D-Bus, modelled on org.freedesktop.systemd1: the manager object with
/// io.supervisor.Manager1, and one object per unit with io.supervisor.Unit1. Reads are open to
/// everyone; anything that changes state needs uid 0 or the admin group.
/// </summary>
public sealed class ControlApi
{
    public const string BusName = "io.supervisor.Supervisor1";
    public const string ManagerPath = "/io/supervisor/Supervisor1";
    public const string UnitPathPrefix = "/io/supervisor/Supervisor1/unit";
    public const string ManagerInterface = "io.supervisor.Manager1";
    public const string UnitInterface = "io.supervisor.Unit1";
    public const string JobFailedError = "io.supervisor.Error.JobFailed";
    public const string NoSuchUnitError = "io.supervisor.Error.NoSuchUnit";
    public const string OnlyByDependencyError = "io.supervisor.Error.OnlyByDependency";

    /// <summary>systemd's value for "unknown or unlimited" in uint64 properties.</summary>
    public const ulong Unset = ulong.MaxValue;

    private static readonly HashSet<string> Mutating = new(StringComparer.Ordinal)
    {
        "StartUnit", "StopUnit", "RestartUnit", "ReloadUnit", "ResetFailedUnit", "Reload",
    };

    private readonly UnitManager _manager;
    private readonly Func<UnitDefinition, CgroupStats?> _stats;
    private readonly Func<Task<IReadOnlyList<PlanAction>>> _reload;
    private readonly Func<Task<IReadOnlyList<PlanAction>>> _plan;
    private readonly Func<string> _cgroupLayout;
    private readonly uint? _adminGid;
    private readonly Action<string> _log;
    private readonly ControlApiPaths? _paths;
    private readonly Action<string, string> _unitLog;
    private readonly Func<string, (uint Uid, uint Gid)?> _identity;
    private readonly HashSet<string> _exported = new(StringComparer.Ordinal);
    private readonly Func<string, Task<bool>>? _instantiate;

    public DBusObjectRegistry Registry { get; } = new();

    /// <summary>
    /// A unit's seccomp denials since the daemon started (system call, count) and the newest in
    /// words, served as SeccompDenials and SeccompLastDenial; without it both are empty.
    /// </summary>
    public Func<string, (IReadOnlyList<(string Syscall, long Count)> Counts, string? Last)>? SeccompDenials { get; init; }

    /// <summary>An Accept=yes socket unit's connections (systemd's NAccepted, NConnections, NRefused); zero for any other unit.</summary>
    public Func<string, (long Accepted, int Connections, long Refused)>? Connections { get; init; }

    /// <param name="log">A warning for the daemon's own log (refused calls).</param>
    /// <param name="paths">The daemon's directories and cgroup subtree, served as manager properties
    /// (UnitsDirectory, StateDirectory, LogDirectory, CgroupRoot); without them those properties do not exist,
    /// as on an older daemon, and clients fall back to their defaults.</param>
    /// <param name="unitLog">Writes a line to a unit's own log (unit, line): who asked for each start, stop,
    /// restart, reload and reset-failed. Without it the line goes to <paramref name="log"/>.</param>
    /// <param name="identity">The uid and gid a unit's processes run as while it is up (UID and GID; its dynamic pair for DynamicUser).</param>
    public ControlApi(UnitManager manager, Func<UnitDefinition, CgroupStats?> stats,
        Func<Task<IReadOnlyList<PlanAction>>> reload, Func<Task<IReadOnlyList<PlanAction>>> plan, Func<string> cgroupLayout,
        uint? adminGid, Action<string> log, ControlApiPaths? paths = null, Action<string, string>? unitLog = null,
        Func<string, (uint Uid, uint Gid)?>? identity = null, Func<string, Task<bool>>? instantiate = null)
    {
        _instantiate = instantiate;
        _identity = identity ?? (_ => null);
        _cgroupLayout = cgroupLayout;
        _manager = manager;
        _stats = stats;
        _reload = reload;
        _plan = plan;
        _adminGid = adminGid;
        _log = log;
        _paths = paths;
        _unitLog = unitLog ?? ((unit, line) => log($"{unit}: {line}"));
        Registry.Authorize = AuthorizeAsync;
        Registry.Register(ManagerPath, BuildManager());
        manager.StateChanged += OnStateChanged;
        manager.UnitSetChanged += Sync;
    }

    public static ObjectPath UnitPath(string unit) => BusLabel.ToObjectPath(UnitPathPrefix, unit);

    private async ValueTask AuthorizeAsync(CallContext ctx)
    {
        if (!IsMutating(ctx.Kind, ctx.Interface, ctx.Member)) return;
        var caller = await ctx.GetCallerCredentialsAsync();
        if (Refusal(caller, _adminGid, ctx.Member) is not { } refusal) return;
        _log($"refused {ctx.Member} from uid {caller.UserId} (pid {caller.ProcessId}): needs root{(_adminGid is null ? "" : " or the admin group")}");
        throw new DBusErrorException(DBusErrors.AccessDenied, refusal);
    }

    /// <summary>Calls that change state: the manager's jobs and reloads, and any property write.</summary>
    internal static bool IsMutating(CallKind kind, string @interface, string member) =>
        kind == CallKind.SetProperty || (kind == CallKind.Method && @interface == ManagerInterface && Mutating.Contains(member));

    /// <summary>Why <paramref name="caller"/> may not make the mutating call <paramref name="member"/>, or null when it may.</summary>
    internal static string? Refusal(PeerCredentials caller, uint? adminGid, string member) =>
        caller.UserId == 0 || (adminGid is { } gid && caller.IsInGroup(gid)) ? null
        : $"{member} changes the state of units: it needs uid 0{(adminGid is null ? "" : $" or membership of the admin group (gid {adminGid})")}; you are uid {caller.UserId}";

    private DBusInterface BuildManager()
    {
        var manager = new DBusInterface(ManagerInterface)
            .AddMethod("ListUnits", "", "a(ssssssouso)", (_, _) => new(new object[] { ListUnits() }), [], ["units"])
            .AddMethod("GetUnit", "s", "o", (_, a) => new(new object[] { UnitPath(Known((string)a[0])) }), ["name"], ["unit"])
            .AddMethod("StartUnit", "ss", "o", (c, a) => Job(c, "start", (string)a[0], _manager.StartAsync), ["name", "mode"], ["unit"])
            .AddMethod("StopUnit", "ss", "o", (c, a) => Job(c, "stop", (string)a[0], _manager.StopAsync), ["name", "mode"], ["unit"])
            .AddMethod("RestartUnit", "ss", "o", (c, a) => Job(c, "restart", (string)a[0], _manager.RestartAsync), ["name", "mode"], ["unit"])
            .AddMethod("ReloadUnit", "ss", "o", (c, a) => Job(c, "reload", (string)a[0], _manager.ReloadAsync), ["name", "mode"], ["unit"])
            .AddMethod("ResetFailedUnit", "s", "", async (c, a) => { await Job(c, "reset-failed", (string)a[0], _manager.ResetFailedAsync); return []; }, ["name"], [])
            .AddMethod("Reload", "", "a(ssss)", async (_, _) => new object[] { PlanRows(await _reload()) }, [], ["actions"])
            .AddMethod("Plan", "", "a(ssss)", async (_, _) => new object[] { PlanRows(await _plan()) }, [], ["actions"])
            .AddProperty("Version", "s", () => typeof(ControlApi).Assembly.GetName().Version?.ToString(3) ?? "0", change: PropertyChange.Const)
            .AddProperty("CgroupLayout", "s", () => _cgroupLayout(), change: PropertyChange.Const)
            .AddSignal("UnitNew", "so", ["id", "unit"])
            .AddSignal("UnitRemoved", "so", ["id", "unit"])
            .AddSignal("UnitStateChanged", "ssss", ["id", "active_state", "sub_state", "result"]);
        if (_paths is { } paths)
        {
            manager.AddProperty("UnitsDirectory", "s", () => paths.UnitsDirectory, change: PropertyChange.Const)
                .AddProperty("StateDirectory", "s", () => paths.StateDirectory, change: PropertyChange.Const)
                .AddProperty("LogDirectory", "s", () => paths.LogDirectory, change: PropertyChange.Const)
                .AddProperty("CgroupRoot", "s", () => paths.CgroupRoot, change: PropertyChange.Const);
        }
        return manager;
    }

    /// <summary>"redis.service", as systemctl users type it, is the unit "redis".</summary>
    private string Canonical(string name) =>
        !_manager.Units.ContainsKey(name) && name.EndsWith(".service", StringComparison.Ordinal)
            && (_manager.Units.ContainsKey(name[..^".service".Length]) || Supervisor.Units.Templates.UnitNameParts.IsInstance(name[..^".service".Length]))
            ? name[..^".service".Length]
            : name;

    private string Known(string name)
    {
        name = Canonical(name);
        if (_manager.Units.ContainsKey(name)) return name;
        var hint = Supervisor.Units.Values.Suggest.Hint(name, _manager.Units.Keys);
        throw new DBusErrorException(NoSuchUnitError, $"unit '{name}' is not loaded" + (hint is null ? "" : $"; {hint}"));
    }

    private async ValueTask<object[]> Job(CallContext ctx, string request, string name, Func<string, Task<JobOutcome>> run)
    {
        name = Canonical(name);
        // An instance of a template that is not loaded yet ("start getty@tty3") becomes a unit first, as in systemd.
        if (request is "start" or "restart" && _instantiate is not null && !_manager.Units.ContainsKey(name)
            && Supervisor.Units.Templates.UnitNameParts.IsInstance(name))
            await _instantiate(name);
        RefuseManual(request, name);
        // Written before the job runs, so the unit's log reads in order: who asked, then what happened.
        if (_manager.Units.ContainsKey(name))
            _unitLog(name, $"{request} requested by {await CallerAsync(ctx)} over the control API");
        var outcome = await run(name);
        return outcome.Result switch
        {
            JobResult.Done => [UnitPath(name)],
            JobResult.Rejected when !_manager.Units.ContainsKey(name) => throw new DBusErrorException(NoSuchUnitError, outcome.Message ?? $"unit '{name}' is not loaded"),
            _ => throw new DBusErrorException(JobFailedError, outcome.Message ?? $"job for '{name}' ended: {outcome.Result}"),
        };
    }

    /// <summary>RefuseManualStart/RefuseManualStop: a request over this API is manual; only a dependency may start or stop such a unit (systemd's OnlyByDependency).</summary>
    private void RefuseManual(string request, string name)
    {
        if (!_manager.Units.TryGetValue(name, out var status) || status.Definition?.Unit is not { } u) return;
        bool start = request is "start" or "restart" && u.RefuseManualStart;
        bool stop = request is "stop" or "restart" && u.RefuseManualStop;
        if (start || stop)
            throw new DBusErrorException(OnlyByDependencyError,
                $"Operation refused, unit '{name}' may be requested by dependency only (it is configured to refuse manual {(start ? "start" : "stop")})");
    }

    /// <summary>"uid 0 (pid 1234)": SO_PEERCRED on the private socket, the bus's word on a bus (pid 0 when it gave none).</summary>
    private static async ValueTask<string> CallerAsync(CallContext ctx)
    {
        var caller = await ctx.GetCallerCredentialsAsync();
        var details = new List<string>(2);
        if (caller.ProcessId > 0) details.Add($"pid {caller.ProcessId}");
        if (ctx.Connection.IsBusConnection && ctx.Sender is { } sender) details.Add($"bus name {sender}");
        return $"uid {caller.UserId}" + (details.Count == 0 ? "" : $" ({string.Join(", ", details)})");
    }

    private static object[] PlanRows(IReadOnlyList<PlanAction> actions) =>
        actions.Select(a => (object)new DBusStruct(a.Unit, a.Kind.ToString(), a.Reason, string.Join("; ", a.Changes.Select(c => c.ToString())))).ToArray();

    private object[] ListUnits() =>
        _manager.Units.Values.OrderBy(u => u.Name, StringComparer.Ordinal).Select(u => (object)new DBusStruct(
            u.Name, u.Definition?.Unit.Description ?? "", u.LoadState, StateNames.Name(u.Active), StateNames.Name(u.Runtime.Sub),
            "", UnitPath(u.Name), 0u, "", new ObjectPath("/"))).ToArray();

    // ── per-unit objects ─────────────────────────────────────────────────────────────────────

    /// <summary>Exports objects for new units, removes those of units that are gone, and says so with signals.</summary>
    public void Sync()
    {
        // Called from the manager's thread (state changes) and the daemon's (start, reload).
        lock (_exported) SyncLocked();
    }

    private void SyncLocked()
    {
        var now = _manager.Units.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var name in now.Where(n => !_exported.Contains(n)).Order(StringComparer.Ordinal))
        {
            Registry.Register(UnitPath(name), BuildUnit(name));
            _exported.Add(name);
            Registry.EmitSignal(ManagerPath, ManagerInterface, "UnitNew", "so", name, UnitPath(name));
        }
        foreach (var name in _exported.Where(n => !now.Contains(n)).ToList())
        {
            Registry.Unregister(UnitPath(name));
            _exported.Remove(name);
            Registry.EmitSignal(ManagerPath, ManagerInterface, "UnitRemoved", "so", name, UnitPath(name));
        }
    }

    private void OnStateChanged(UnitStatus status, UnitRuntime before)
    {
        // Units come and go with a reconcile, which syncs afterwards; a state change of an exported
        // unit needs no full pass (that would cost O(units) per change, O(units²) for a start of all).
        bool exported;
        lock (_exported) exported = _exported.Contains(status.Name);
        if (!exported) Sync();
        if (!Equals(before.Health, status.Runtime.Health))
            Registry.EmitPropertiesChanged(UnitPath(status.Name), UnitInterface, "Readiness", "StartupProbe", "LivenessProbe", "ReadinessProbe");
        if (before.Sub == status.Runtime.Sub && before.Result == status.Runtime.Result && before.MainPid == status.Runtime.MainPid) return;
        Registry.EmitPropertiesChanged(UnitPath(status.Name), UnitInterface, "ActiveState", "SubState", "Result", "MainPID", "NRestarts", "ActiveEnterTimestamp");
        Registry.EmitSignal(ManagerPath, ManagerInterface, "UnitStateChanged", "ssss",
            status.Name, StateNames.Name(status.Active), StateNames.Name(status.Runtime.Sub), StateNames.Name(status.Runtime.Result));
    }

    private UnitStatus Status(string name) =>
        _manager.Units.TryGetValue(name, out var s) ? s : throw new DBusErrorException(DBusErrors.UnknownObject, $"unit '{name}' is no longer loaded");

    private CgroupStats? Stats(string name) => Status(name).Definition is { Kind: UnitKind.Service } def ? _stats(def) : null;

    private DBusInterface BuildUnit(string name) => new DBusInterface(UnitInterface)
        .AddProperty("Id", "s", () => name, change: PropertyChange.Const)
        .AddProperty("Description", "s", () => Status(name).Definition?.Unit.Description ?? "")
        .AddProperty("LoadState", "s", () => Status(name).LoadState)
        .AddProperty("ActiveState", "s", () => StateNames.Name(Status(name).Active))
        .AddProperty("SubState", "s", () => StateNames.Name(Status(name).Runtime.Sub))
        .AddProperty("Result", "s", () => StateNames.Name(Status(name).Runtime.Result))
        .AddProperty("MainPID", "u", () => (uint)(Status(name).Runtime.MainPid ?? 0))
        .AddProperty("NRestarts", "u", () => (uint)Status(name).Runtime.NRestarts)
        .AddProperty("ActiveEnterTimestamp", "t", () => Status(name).Runtime.ActiveSince is { } ts
            ? (ulong)(DateTimeOffset.UtcNow - TimeProvider.System.GetElapsedTime(ts)).ToUnixTimeMilliseconds() * 1000UL : 0UL)
        // systemd's ConditionResult/AssertResult and their timestamps; what was not met in words (systemd has it in Conditions/Asserts).
        .AddProperty("ConditionResult", "b", () => Status(name).Runtime.ConditionResult is not { Met: false }, change: PropertyChange.None)
        .AddProperty("AssertResult", "b", () => Status(name).Runtime.AssertResult is not { Met: false }, change: PropertyChange.None)
        .AddProperty("ConditionTimestamp", "t", () => Status(name).Runtime.ConditionCheckedAt is { } ct
            ? (ulong)(DateTimeOffset.UtcNow - TimeProvider.System.GetElapsedTime(ct)).ToUnixTimeMilliseconds() * 1000UL : 0UL, change: PropertyChange.None)
        .AddProperty("ConditionNotMet", "s", () => Status(name).Runtime.ConditionResult is { Met: false } c ? c.Describe() : "", change: PropertyChange.None)
        .AddProperty("AssertNotMet", "s", () => Status(name).Runtime.AssertResult is { Met: false } a ? a.Describe() : "", change: PropertyChange.None)
        .AddProperty("FragmentPath", "s", () => Status(name).Definition?.Sources.FirstOrDefault() ?? "", change: PropertyChange.Invalidates)
        .AddProperty("Diagnostics", "as", () => Status(name).Diagnostics.Select(d => (object)d.ToString()).ToArray(), change: PropertyChange.Invalidates)
        .AddProperty("MemoryCurrent", "t", () => Stats(name)?.MemoryCurrentBytes ?? Unset, change: PropertyChange.None)
        .AddProperty("MemoryMax", "t", () => Status(name).Definition?.Resources.MemoryMax is { IsInfinity: false } m ? m.Bytes : Unset, change: PropertyChange.Invalidates)
        .AddProperty("CPUUsageNSec", "t", () => Stats(name)?.CpuUsageNs ?? Unset, change: PropertyChange.None)
        .AddProperty("CPUQuotaPerSecUSec", "t", () => Status(name).Definition?.Resources.CPUQuota is { } q ? (ulong)(q.Hundredths * 100) : Unset, change: PropertyChange.Invalidates)
        .AddProperty("TasksCurrent", "t", () => Stats(name)?.TasksCurrent ?? Unset, change: PropertyChange.None)
        .AddProperty("TasksMax", "t", () => Status(name).Definition?.Resources.TasksMax is { IsInfinity: false } t ? t.Value : Unset, change: PropertyChange.Invalidates)
        .AddProperty("Namespaces", "as", () => NamespaceNames(Status(name).Definition), change: PropertyChange.Invalidates)
        .AddProperty("SeccompEnabled", "b", () => Status(name).Definition?.Sandbox is { } x && (x.SystemCallFilter is not null || x.SeccompProfile is not null), change: PropertyChange.Invalidates)
        // Each call SystemCallFilter denied, with how often (the metric supervisor_unit_seccomp_denials_total), and the newest in words.
        .AddProperty("SeccompDenials", "a(st)", () => (SeccompDenials?.Invoke(name).Counts ?? []).Select(d => (object)new DBusStruct(d.Syscall, (ulong)d.Count)).ToArray(), change: PropertyChange.None)
        .AddProperty("SeccompLastDenial", "s", () => SeccompDenials?.Invoke(name).Last ?? "", change: PropertyChange.None)
        .AddProperty("Accept", "b", () => Status(name).Definition?.Socket.Accept ?? false, change: PropertyChange.Invalidates)
        .AddProperty("NAccepted", "u", () => (uint)(Connections?.Invoke(name).Accepted ?? 0), change: PropertyChange.None)
        .AddProperty("NConnections", "u", () => (uint)(Connections?.Invoke(name).Connections ?? 0), change: PropertyChange.None)
        .AddProperty("NRefused", "u", () => (uint)(Connections?.Invoke(name).Refused ?? 0), change: PropertyChange.None)
        .AddProperty("AppArmorProfile", "s", () => Status(name).Definition?.Sandbox.AppArmorProfile?.ToString() ?? "", change: PropertyChange.Invalidates)
        .AddProperty("SELinuxContext", "s", () => Status(name).Definition?.Sandbox.SELinuxContext?.ToString() ?? "", change: PropertyChange.Invalidates)
        // systemd's Service properties: the ids the processes run as (for DynamicUser the allocated pair), UINT32_MAX while down.
        .AddProperty("DynamicUser", "b", () => Status(name).Definition?.Sandbox.DynamicUser ?? false, change: PropertyChange.Invalidates)
        .AddProperty("UID", "u", () => _identity(name)?.Uid ?? uint.MaxValue, change: PropertyChange.None)
        .AddProperty("GID", "u", () => _identity(name)?.Gid ?? uint.MaxValue, change: PropertyChange.None)
        // [Health]: "ready" / "not-ready" ("" without a readiness probe), and each probe's standing in words ("" when not declared).
        .AddProperty("Readiness", "s", () => Status(name) is { Definition: { } d } s ? s.Runtime.Health.ReadinessWord(d.Health) : "")
        .AddProperty("StartupProbe", "s", () => ProbeText(Status(name), ProbeRole.Startup))
        .AddProperty("LivenessProbe", "s", () => ProbeText(Status(name), ProbeRole.Liveness))
        .AddProperty("ReadinessProbe", "s", () => ProbeText(Status(name), ProbeRole.Readiness));

    /// <summary>A probe's standing as status prints it; "not running" while the unit is down.</summary>
    private static string ProbeText(UnitStatus s, ProbeRole role)
    {
        if (s.Definition?.Health.Of(role) is not { } spec) return "";
        if (s.Active is ActiveState.Inactive or ActiveState.Failed || s.Runtime.Sub == SubState.AutoRestart) return "not running";
        if (role != ProbeRole.Startup && !s.Runtime.Health.StartupDone) return "held until the startup probe passes";
        return s.Runtime.Health.Of(role).Describe(spec);
    }

    private static object[] NamespaceNames(UnitDefinition? d) =>
        d is null ? [] : Units.Keys.ValueTypes.NamespaceNames.Where(n => d.Sandbox.EffectiveNamespaces.HasFlag(n.Flag)).Select(n => (object)n.Name).ToArray();
}
