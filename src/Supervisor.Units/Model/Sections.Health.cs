using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>Which of a unit's three probes (Kubernetes' startup, liveness and readiness probes).</summary>
public enum ProbeRole { Startup, Liveness, Readiness }

/// <summary>How a probe checks the service.</summary>
public enum ProbeCheck
{
    /// <summary>A command in the unit's sandbox and cgroup, as its user: exit 0 is success.</summary>
    Exec,
    /// <summary>GET on a loopback http URL: a status from 200 to 399 is success.</summary>
    Http,
    /// <summary>A TCP connect to a loopback address: an accepted connection is success.</summary>
    Tcp,
}

/// <summary>
/// One probe as Kubernetes defines it (core/v1 Probe): what is checked, and when it counts.
/// <see cref="Host"/> is a loopback literal or "localhost"; <see cref="Path"/> is the URL's path
/// and query, for http only.
/// </summary>
public sealed record ProbeSpec
{
    public required ProbeCheck Check { get; init; }
    /// <summary>Exec: the command (an absolute program path, no "+" or "!" prefix).</summary>
    public Command? Command { get; init; }
    /// <summary>Http: the URL as written ("http://127.0.0.1:8080/healthz").</summary>
    public string? Url { get; init; }
    /// <summary>Tcp: the address as written ("127.0.0.1:8080", "[::1]:8080").</summary>
    public string? Address { get; init; }
    public string Host { get; init; } = "";
    public int Port { get; init; }
    public string Path { get; init; } = "/";

    /// <summary>periodSeconds: how often the probe runs.</summary>
    public Duration Period { get; init; } = Defaults.Period;
    /// <summary>timeoutSeconds: how long one run may take before it counts as failed.</summary>
    public Duration Timeout { get; init; } = Defaults.Timeout;
    /// <summary>initialDelaySeconds: the wait before the first run, from when the probe is enabled.</summary>
    public Duration InitialDelay { get; init; } = Duration.Zero;
    /// <summary>failureThreshold: consecutive failures that make the probe failed.</summary>
    public int FailureThreshold { get; init; } = 3;
    /// <summary>successThreshold: consecutive successes that make the probe pass again (1 for liveness and startup).</summary>
    public int SuccessThreshold { get; init; } = 1;

    /// <summary>Kubernetes' defaults: periodSeconds 10, timeoutSeconds 1.</summary>
    public static class Defaults
    {
        public static readonly Duration Period = Duration.FromSeconds(10);
        public static readonly Duration Timeout = Duration.FromSeconds(1);
        /// <summary>The shortest period accepted (Kubernetes' is 1 s; fractions are allowed here, for tests and fast services).</summary>
        public static readonly Duration MinPeriod = Duration.FromMilliseconds(100);
    }
}

/// <summary>[Health]: the unit's probes; none by default.</summary>
public sealed record HealthSection
{
    public ProbeSpec? StartupProbe { get; init; }
    public ProbeSpec? LivenessProbe { get; init; }
    public ProbeSpec? ReadinessProbe { get; init; }

    public ProbeSpec? Of(ProbeRole role) => role switch
    {
        ProbeRole.Startup => StartupProbe,
        ProbeRole.Liveness => LivenessProbe,
        _ => ReadinessProbe,
    };

    public bool Any => StartupProbe is not null || LivenessProbe is not null || ReadinessProbe is not null;

    /// <summary>The exec probes' commands (compiled with the unit's other commands).</summary>
    public IEnumerable<Command> Commands =>
        new[] { StartupProbe, LivenessProbe, ReadinessProbe }.Where(p => p?.Command is not null).Select(p => p!.Command!);
}
