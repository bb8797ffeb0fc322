using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Supervisor.Cli.Control;
using Supervisor.Runtime;
using Supervisor.Runtime.Metrics;
using Supervisor.Units;

namespace Supervisor.Cli;

/// <summary>
/// `supervisor run` on the Generic Host: the runtime composed with its two interfaces, the control
/// API (private socket, system bus) and the metrics endpoint. Everything that can fail at start-up
/// (the state directory in use, the control socket or the metrics port in use) fails before the
/// first unit starts, so a failed start leaves nothing running.
/// </summary>
public sealed class Daemon(DaemonOptions options, ILogger<Daemon> logger, IHostApplicationLifetime lifetime) : BackgroundService
{
    /// <summary>Set when the daemon stopped because of an error rather than a request; `run` then exits 1.</summary>
    public string? Failure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One line, never a stack trace: the message names what failed.
            Failure = e.Message;
            logger.LogCritical("supervisor stopped: {Message}", e.Message);
            lifetime.StopApplication();
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        using var runtime = new SupervisorRuntime(options, logger);
        runtime.Open();
        var adminGid = AdminGroupId();
        var api = BuildControlApi(runtime, adminGid, stoppingToken);
        await using var server = ControlEndpoints.ListenPrivate(options.RuntimeDirectory, api, adminGid, logger);
        await using var bus = await ControlEndpoints.ConnectSystemBusAsync(options.SystemBus, api, logger, stoppingToken);
        var (metrics, metricsServer) = MetricsEndpoint.Start(options.MetricsListen, runtime.Sampler.Sample,
            runtime.Driver.Layout.Mode.ToString().ToLowerInvariant(), logger);
        using var _ = metricsServer;
        runtime.Metrics = metrics;

        await runtime.StartUnitsAsync(stoppingToken);
        api.Sync();
        lifetime.ApplicationStarted.Register(() => logger.LogInformation("supervisor is running with units from {Dir}", options.UnitsDirectory));
        await runtime.RunAsync(stoppingToken);
        await runtime.StopAsync();
    }

    /// <summary>The --admin-group's gid: its members may change units, and count as privileged on the control socket.</summary>
    private uint? AdminGroupId() => options.AdminGroup is null ? null
        : Supervisor.Sandbox.Compiler.UserDatabase.Load().FindGroup(options.AdminGroup)
          ?? throw new InvalidOperationException($"--admin-group: no group '{options.AdminGroup}' in /etc/group");

    private ControlApi BuildControlApi(SupervisorRuntime runtime, uint? adminGid, CancellationToken stoppingToken)
    {
        var api = new ControlApi(runtime.Manager,
            runtime.StatsOf,
            () => runtime.Reconciler.ReconcileAsync("D-Bus Reload", stoppingToken),
            () => Task.FromResult(runtime.Manager.Preview(runtime.Declared.Read())),
            () => runtime.CgroupDescription,
            adminGid,
            message => logger.LogWarning("{Message}", message),
            new ControlApiPaths(options.UnitsDirectory, options.StateDirectory, options.LogDirectory, runtime.Driver.Root),
            (unit, line) => runtime.Host.Log(unit, line),
            runtime.Host.IdentityOf,
            async name => runtime.Declared.RequestInstance(name)
                && (await runtime.Reconciler.ReconcileAsync($"start of new instance '{name}'", stoppingToken)).Count >= 0)
        {
            SeccompDenials = unit => (runtime.Host.Denials.CountsOf(unit), runtime.Host.Denials.LastOf(unit)),
            Connections = unit => runtime.Manager.Units.TryGetValue(unit, out var s) && s.Definition is { Kind: Supervisor.Units.Model.UnitKind.Socket } d
                ? runtime.Host.Connections.Of(d) : default,
        };
        api.Sync();
        return api;
    }
}
