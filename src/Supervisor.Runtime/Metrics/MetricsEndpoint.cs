using System.Globalization;
using Microsoft.Extensions.Logging;
using Supervisor.Metrics;

namespace Supervisor.Runtime.Metrics;

/// <summary>Prometheus /metrics on --metrics-listen, served by Kestrel; values read from the cgroups at scrape time.</summary>
public static class MetricsEndpoint
{
    /// <returns>The metrics (for the counters the runtime feeds) and the server; null for both when --metrics-listen is off.</returns>
    public static (SupervisorMetrics? Metrics, IDisposable? Server) Start(string listen, Func<IReadOnlyList<UnitSample>> samples, string cgroupMode, ILogger logger)
    {
        if (listen == "off")
        {
            logger.LogInformation("metrics are off (--metrics-listen off)");
            return (null, null);
        }
        var colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new InvalidOperationException($"--metrics-listen '{listen}': expected ADDRESS:PORT (e.g. 127.0.0.1:9558) or 'off'");
        var hostname = listen[..colon].Trim('[', ']');
        var metrics = new SupervisorMetrics(samples, typeof(MetricsEndpoint).Assembly.GetName().Version?.ToString(3) ?? "0", cgroupMode);
        try
        {
            var server = MetricsServer.Start(hostname, port, metrics);
            logger.LogInformation("metrics on http://{Listen}/metrics", listen);
            return (metrics, server);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            throw new InvalidOperationException($"cannot serve metrics on {listen}: {inner}; choose another address with --metrics-listen ADDRESS:PORT, or --metrics-listen off");
        }
    }
}
