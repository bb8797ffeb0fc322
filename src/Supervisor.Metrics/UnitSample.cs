using Supervisor.Cgroups;

namespace Supervisor.Metrics;

/// <summary>What the exporter is told about one unit at a scrape. Limits are null when not set or infinity: their series is then absent.</summary>
public sealed record UnitSample
{
    public required string Unit { get; init; }
    public required string ActiveState { get; init; }
    public required string SubState { get; init; }
    public int Restarts { get; init; }
    public double? StartTimeSeconds { get; init; }
    public int? LastExitCode { get; init; }
    /// <summary>The cgroup snapshot, null when the unit has no cgroup now (not running).</summary>
    public CgroupStats? Stats { get; init; }
    public ulong? MemoryLimitBytes { get; init; }
    public double? CpuQuotaCores { get; init; }
    public ulong? TasksLimit { get; init; }
    public string Namespaces { get; init; } = "";
    public bool Seccomp { get; init; }
    public string AppArmor { get; init; } = "";
    public string SELinux { get; init; } = "";
    public bool NoNewPrivileges { get; init; }
    public long LogLinesDropped { get; init; }
    /// <summary>Whether the live isolation differs from the declaration (last reconcile's check); null when not checked (not running).</summary>
    public bool? SandboxDrift { get; init; }
    /// <summary>[Health] probes with a verdict in the current run ("liveness", true); a probe without one has no series.</summary>
    public IReadOnlyList<(string Probe, bool Ok)> Probes { get; init; } = [];
    /// <summary>System calls the unit's seccomp filter denied since the supervisor started, with how often.</summary>
    public IReadOnlyList<(string Syscall, long Count)> SeccompDenials { get; init; } = [];
}
