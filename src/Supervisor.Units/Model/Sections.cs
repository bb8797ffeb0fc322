using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>[Unit]: what the unit is and how it relates to others. Names are unit names ("db", "web.slice").</summary>
public sealed partial record UnitSection
{
    public string Description { get; init; } = "";
    public ValueList<string> Documentation { get; init; } = ValueList<string>.Empty;
    public ValueList<string> Requires { get; init; } = ValueList<string>.Empty;
    public ValueList<string> Wants { get; init; } = ValueList<string>.Empty;
    public ValueList<string> After { get; init; } = ValueList<string>.Empty;
    public ValueList<string> Before { get; init; } = ValueList<string>.Empty;
    public ValueList<string> BindsTo { get; init; } = ValueList<string>.Empty;
    public ValueList<string> PartOf { get; init; } = ValueList<string>.Empty;
    public ValueList<string> Conflicts { get; init; } = ValueList<string>.Empty;
    /// <summary>Units that must already be active for this one to start; never started for it (systemd's Requisite=).</summary>
    public ValueList<string> Requisite { get; init; } = ValueList<string>.Empty;
    /// <summary>Stop this unit once no active unit Requires, Wants, BindsTo or has it as Requisite (systemd's StopWhenUnneeded=).</summary>
    public bool StopWhenUnneeded { get; init; }
    /// <summary>Units reloaded when this one is (systemd's PropagatesReloadTo=).</summary>
    public ValueList<string> PropagatesReloadTo { get; init; } = ValueList<string>.Empty;
    /// <summary>Units whose reload reloads this one too (systemd's ReloadPropagatedFrom=).</summary>
    public ValueList<string> ReloadPropagatedFrom { get; init; } = ValueList<string>.Empty;
}

/// <summary>[Service]: what runs and how it is supervised. Defaults are systemd's.</summary>
public sealed partial record ServiceSection
{
    public ServiceType Type { get; init; } = ServiceType.Simple;
    public Command? ExecStart { get; init; }
    public ValueList<Command> ExecStartPre { get; init; } = ValueList<Command>.Empty;
    public ValueList<Command> ExecStartPost { get; init; } = ValueList<Command>.Empty;
    public ValueList<Command> ExecStop { get; init; } = ValueList<Command>.Empty;
    public ValueList<Command> ExecReload { get; init; } = ValueList<Command>.Empty;
    public ValueList<Command> ExecStopPost { get; init; } = ValueList<Command>.Empty;
    public bool RemainAfterExit { get; init; }
    public string? PIDFile { get; init; }

    public RestartPolicy Restart { get; init; } = RestartPolicy.No;
    public Duration RestartSec { get; init; } = Duration.FromMilliseconds(100);
    public int RestartSteps { get; init; }
    public Duration RestartMaxDelaySec { get; init; } = Duration.Infinity;
    public Duration RestartResetSec { get; init; } = Duration.Infinity;
    public Percent RestartJitter { get; init; }
    public Duration StartLimitIntervalSec { get; init; } = Duration.FromSeconds(10);
    public int StartLimitBurst { get; init; } = 5;
    public ExitStatusSet SuccessExitStatus { get; init; } = ExitStatusSet.Empty;
    public ExitStatusSet RestartPreventExitStatus { get; init; } = ExitStatusSet.Empty;
    public ExitStatusSet RestartForceExitStatus { get; init; } = ExitStatusSet.Empty;

    public Duration TimeoutStartSec { get; init; } = Duration.FromSeconds(90);
    public Duration TimeoutStopSec { get; init; } = Duration.FromSeconds(90);
    public Duration WatchdogSec { get; init; } = Duration.Zero;
    /// <summary>WatchdogSec is on (neither 0 nor infinity): the one place that rule lives.</summary>
    public bool WatchdogEnabled => WatchdogSec.Microseconds > 0 && !WatchdogSec.IsInfinity;
    public KillMode KillMode { get; init; } = KillMode.ControlGroup;
    public int KillSignal { get; init; } = 15;
    public bool SendSIGKILL { get; init; } = true;

    public string? User { get; init; }
    public string? Group { get; init; }
    public ValueList<string> SupplementaryGroups { get; init; } = ValueList<string>.Empty;
    public OptionalPath? WorkingDirectory { get; init; }
    public ValueList<KeyValuePair<string, string>> Environment { get; init; } = ValueList<KeyValuePair<string, string>>.Empty;
    public ValueList<OptionalPath> EnvironmentFile { get; init; } = ValueList<OptionalPath>.Empty;
    public string? Slice { get; init; }

    /// <summary>setrlimit values by systemd key name (LimitNOFILE, …); absent keys are inherited.</summary>
    public ValueList<KeyValuePair<string, RLimit>> Limits { get; init; } = ValueList<KeyValuePair<string, RLimit>>.Empty;
}

/// <summary>[Resources]: cgroup limits, named as cgroup v2 / systemd names them. Null = not set.</summary>
public sealed partial record ResourcesSection
{
    public Size? MemoryMax { get; init; }
    public Size? MemoryHigh { get; init; }
    public Size? MemoryLow { get; init; }
    public Size? MemoryMin { get; init; }
    public Size? MemorySwapMax { get; init; }
    public Percent? CPUQuota { get; init; }
    public Duration CPUQuotaPeriodSec { get; init; } = Duration.FromMilliseconds(100);
    public int? CPUWeight { get; init; }
    public string? AllowedCPUs { get; init; }
    public string? AllowedMemoryNodes { get; init; }
    public TaskCount? TasksMax { get; init; }
    public int? IOWeight { get; init; }
    public ValueList<DeviceLimit> IOReadBandwidthMax { get; init; } = ValueList<DeviceLimit>.Empty;
    public ValueList<DeviceLimit> IOWriteBandwidthMax { get; init; } = ValueList<DeviceLimit>.Empty;
    public ValueList<DeviceLimit> IOReadIOPSMax { get; init; } = ValueList<DeviceLimit>.Empty;
    public ValueList<DeviceLimit> IOWriteIOPSMax { get; init; } = ValueList<DeviceLimit>.Empty;
}

/// <summary>[Sandbox]: the isolation the service runs in. The default is no isolation, as in systemd.</summary>
public sealed partial record SandboxSection
{
    public Namespaces Namespaces { get; init; }
    public string? NetworkNamespacePath { get; init; }
    public string? Hostname { get; init; }

    public CapabilitySet? CapabilityBoundingSet { get; init; }
    public ValueList<int> AmbientCapabilities { get; init; } = ValueList<int>.Empty;
    public bool NoNewPrivileges { get; init; }
    public ValueList<SecureBit> SecureBits { get; init; } = ValueList<SecureBit>.Empty;

    public SyscallFilter? SystemCallFilter { get; init; }
    /// <summary>errno returned for a filtered call; null = the process is killed (systemd's default).</summary>
    public int? SystemCallErrorNumber { get; init; }
    public SyscallFilterMode SystemCallFilterMode { get; init; }
    public ValueList<SyscallArchitecture> SystemCallArchitectures { get; init; } = ValueList<SyscallArchitecture>.Empty;
    public ValueList<string> SystemCallLog { get; init; } = ValueList<string>.Empty;
    public string? SeccompProfile { get; init; }

    public OptionalLabel? AppArmorProfile { get; init; }
    public OptionalLabel? SELinuxContext { get; init; }

    public ProtectSystem ProtectSystem { get; init; }
    public ProtectHome ProtectHome { get; init; }
    public bool PrivateTmp { get; init; }
    public bool PrivateDevices { get; init; }
    public ValueList<OptionalPath> ReadWritePaths { get; init; } = ValueList<OptionalPath>.Empty;
    public ValueList<OptionalPath> ReadOnlyPaths { get; init; } = ValueList<OptionalPath>.Empty;
    public ValueList<OptionalPath> InaccessiblePaths { get; init; } = ValueList<OptionalPath>.Empty;
    public ValueList<BindPath> BindPaths { get; init; } = ValueList<BindPath>.Empty;
    public ValueList<BindPath> BindReadOnlyPaths { get; init; } = ValueList<BindPath>.Empty;
    public string? RootDirectory { get; init; }
    public bool ProtectKernelTunables { get; init; }
    public bool ProtectControlGroups { get; init; }
    public ProtectProc ProtectProc { get; init; }
}

/// <summary>
/// A validated unit: a service (NAME.toml), a slice (NAME.slice.toml, [Unit] and [Resources] only)
/// or a socket (NAME.socket.toml, [Unit] and [Socket]).
/// Immutable and compared by value; nothing after the parser sees TOML.
/// </summary>
public sealed record UnitDefinition
{
    public required string Name { get; init; }
    public required UnitKind Kind { get; init; }
    /// <summary>The unit file, then its drop-ins in the order they were applied.</summary>
    public required ValueList<string> Sources { get; init; }
    public UnitSection Unit { get; init; } = new();
    public ServiceSection Service { get; init; } = new();
    public ResourcesSection Resources { get; init; } = new();
    public SandboxSection Sandbox { get; init; } = new();
    /// <summary>[Socket], for a socket unit (NAME.socket.toml).</summary>
    public SocketSection Socket { get; init; } = new();
    /// <summary>[Health], a service's probes.</summary>
    public HealthSection Health { get; init; } = new();

    /// <summary>The slice this unit's cgroup lives in ("web.slice"), or the parent of a slice; null at the root.</summary>
    public string? ParentSlice => Kind == UnitKind.Slice ? SliceNames.Parent(Name) : Service.Slice;
}

/// <summary>systemd's slice naming: "a-b.slice" is a child of "a.slice".</summary>
public static class SliceNames
{
    public static string? Parent(string slice)
    {
        var stem = slice.EndsWith(".slice", StringComparison.Ordinal) ? slice[..^".slice".Length] : slice;
        var dash = stem.LastIndexOf('-');
        return dash > 0 ? stem[..dash] + ".slice" : null;
    }

    /// <summary>The chain from the top: "a-b-c.slice" → ["a.slice", "a-b.slice", "a-b-c.slice"].</summary>
    public static IReadOnlyList<string> Chain(string slice)
    {
        var chain = new List<string>();
        for (string? s = slice; s is not null; s = Parent(s)) chain.Insert(0, s);
        return chain;
    }
}

/// <summary>SystemCallFilterMode: enforce the filter, or run with every call allowed and record those outside it.</summary>
public enum SyscallFilterMode
{
    Enforce,
    Learn,
}
