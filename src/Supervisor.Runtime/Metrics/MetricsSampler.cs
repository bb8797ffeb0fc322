using Supervisor.Cgroups;
using Supervisor.Metrics;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Planning;
using Supervisor.Runtime.Verify;
using Supervisor.Supervision;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Metrics;

/// <summary>One <see cref="UnitSample"/> per unit at each scrape: state from the manager, usage read from the cgroup files then.</summary>
public sealed class MetricsSampler(UnitManager manager, ICgroupDriver driver, UnitHost host, IsolationVerifier verifier)
{
    public IReadOnlyList<UnitSample> Sample()
    {
        var units = manager.Units.Values.ToArray();
        var samples = new UnitSample[units.Length];
        var now = DateTimeOffset.UtcNow;
        // Reading cgroup files is one syscall after another: spread the units over a few threads.
        Parallel.For(0, units.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount * 2) },
            i => samples[i] = Sample(units[i], now));
        return samples;
    }

    private UnitSample Sample(UnitStatus s, DateTimeOffset now)
    {
        var r = s.Definition?.Resources;
        var x = s.Definition?.Sandbox;
        return new UnitSample
        {
            Unit = s.Name,
            ActiveState = StateNames.Name(s.Active),
            SubState = StateNames.Name(s.Runtime.Sub),
            Restarts = s.Runtime.NRestarts,
            StartTimeSeconds = s.Runtime.ActiveSince is { } ts ? (now - TimeProvider.System.GetElapsedTime(ts)).ToUnixTimeMilliseconds() / 1000.0 : null,
            LastExitCode = s.Runtime.LastExit?.ShellStatus,
            Stats = StatsOf(s),
            MemoryLimitBytes = r?.MemoryMax is { IsInfinity: false } m ? m.Bytes : null,
            CpuQuotaCores = r?.CPUQuota is { } q ? q.Hundredths / 10000.0 : null,
            TasksLimit = r?.TasksMax is { IsInfinity: false } t ? t.Value : null,
            Namespaces = x is null ? "" : string.Join(",", ValueTypes.NamespaceNames.Where(n => x.EffectiveNamespaces.HasFlag(n.Flag)).Select(n => n.Name)),
            Seccomp = x is not null && (x.SystemCallFilter is not null || x.SeccompProfile is not null),
            AppArmor = x?.AppArmorProfile?.ToString() ?? "",
            SELinux = x?.SELinuxContext?.ToString() ?? "",
            NoNewPrivileges = x?.NoNewPrivileges ?? false,
            LogLinesDropped = host.DroppedLogLines(s.Name),
            SandboxDrift = verifier.DriftOf(s.Name),
            Probes = ProbesOf(s),
            SeccompDenials = host.Denials.CountsOf(s.Name),
        };
    }

    /// <summary>The probes with a verdict while the unit runs; nothing while it is down (its last verdicts are stale).</summary>
    private static IReadOnlyList<(string, bool)> ProbesOf(UnitStatus s)
    {
        if (s.Definition is not { } def || !def.Health.Any || s.Active is ActiveState.Inactive or ActiveState.Failed || s.Runtime.Sub == SubState.AutoRestart) return [];
        return [.. Enum.GetValues<ProbeRole>()
            .Where(role => def.Health.Of(role) is not null && s.Runtime.Health.Of(role).Ok is not null)
            .Select(role => (role.ToString().ToLowerInvariant(), s.Runtime.Health.Of(role).Ok!.Value))];
    }

    /// <summary>
    /// A running unit has its cgroup (no need to stat every hierarchy first); a cgroup that vanishes
    /// mid-read (the unit stopping) gives a partial snapshot with ReadErrors, never an exception.
    /// </summary>
    private CgroupStats? StatsOf(UnitStatus s)
    {
        if (s.Definition is not { } def) return null;
        var cg = driver.Open(UnitPlanner.CgroupPathOf(def));
        bool running = s.Active is ActiveState.Active or ActiveState.Reloading or ActiveState.Activating or ActiveState.Deactivating
            && s.Runtime.Sub is not SubState.AutoRestart;
        return running || cg.Exists() ? cg.GetStats(usageOnly: true) : null;
    }
}
