using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// One probe's standing in the current run. Counts are consecutive and capped at the probe's
/// threshold, so a steady state is one value (no change event per run).
/// </summary>
/// <param name="Ok">The probe's verdict by its thresholds: null before it decided (not yet run, or not enough runs).</param>
/// <param name="Detail">What the last run saw (one bounded line: "HTTP 200", "exit status 1: …", "connection refused").</param>
public sealed record ProbeStanding(bool? Ok, int Successes, int Failures, string? Detail)
{
    public static readonly ProbeStanding Unknown = new(null, 0, 0, null);

    /// <summary>"ok (1/1)", "failed (3/3): HTTP 503", "waiting", as status prints it.</summary>
    public string Describe(ProbeSpec spec) => Ok switch
    {
        null when Successes == 0 && Failures == 0 => "waiting",
        true => $"ok ({Successes}/{spec.SuccessThreshold})" + (Failures > 0 ? $", failing {Failures}/{spec.FailureThreshold}" : ""),
        false => $"failed ({Failures}/{spec.FailureThreshold})" + (Successes > 0 ? $", passing {Successes}/{spec.SuccessThreshold}" : ""),
        _ => Failures > 0 ? $"failing ({Failures}/{spec.FailureThreshold})" : $"passing ({Successes}/{spec.SuccessThreshold})",
    } + (Ok != true && Detail is { } d ? ": " + d : "");
}

/// <summary>
/// The [Health] probes of one run (Kubernetes' semantics): the startup probe first; liveness and
/// readiness only once it succeeded (or when there is none). Ready is false until readiness
/// passed; without a readiness probe a started unit is ready.
/// </summary>
public sealed record HealthState
{
    public static readonly HealthState None = new();

    /// <summary>Bumped at every start, so probe results of an earlier run are recognised.</summary>
    public int Epoch { get; init; }
    /// <summary>The startup probe succeeded (or there is none): liveness and readiness run.</summary>
    public bool StartupDone { get; init; }
    public ProbeStanding Startup { get; init; } = ProbeStanding.Unknown;
    public ProbeStanding Liveness { get; init; } = ProbeStanding.Unknown;
    public ProbeStanding Readiness { get; init; } = ProbeStanding.Unknown;

    public ProbeStanding Of(ProbeRole role) => role switch
    {
        ProbeRole.Startup => Startup,
        ProbeRole.Liveness => Liveness,
        _ => Readiness,
    };

    public HealthState With(ProbeRole role, ProbeStanding s) => role switch
    {
        ProbeRole.Startup => this with { Startup = s },
        ProbeRole.Liveness => this with { Liveness = s },
        _ => this with { Readiness = s },
    };

    /// <summary>Whether the unit's probes let it count as up: startup done and, with a readiness probe, ready.</summary>
    public bool Passes(HealthSection h) => StartupDone && (h.ReadinessProbe is null || Readiness.Ok == true);

    /// <summary>Readiness as D-Bus and metrics show it: "ready", "not-ready", or "" when the unit has no readiness probe.</summary>
    public string ReadinessWord(HealthSection h) => h.ReadinessProbe is null ? "" : Readiness.Ok == true ? "ready" : "not-ready";

    /// <summary>Counts one run into a standing, by the probe's thresholds.</summary>
    public static ProbeStanding Count(ProbeStanding s, ProbeSpec spec, bool ok, string detail)
    {
        if (ok)
        {
            int successes = Math.Min(s.Successes + 1, spec.SuccessThreshold);
            return new(successes >= spec.SuccessThreshold ? true : s.Ok, successes, 0, detail);
        }
        int failures = Math.Min(s.Failures + 1, spec.FailureThreshold);
        return new(failures >= spec.FailureThreshold ? false : s.Ok, 0, failures, detail);
    }
}
