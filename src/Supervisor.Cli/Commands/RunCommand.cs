using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Supervisor.Runtime;
using Supervisor.Units;

namespace Supervisor.Cli.Commands;

/// <summary>`supervisor run`: the daemon, in the foreground, on the .NET Generic Host.</summary>
public static class RunCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var units = new Option<string>("--units") { Description = "the units directory", DefaultValueFactory = _ => Cli.DefaultUnitsDirectory };
        var state = new Option<string>("--state-dir") { Description = "state and logs", DefaultValueFactory = _ => "/var/lib/supervisor" };
        var runtime = new Option<string>("--runtime-dir") { Description = "sockets (control, sd_notify)", DefaultValueFactory = _ => "/run/supervisor" };
        var cgroup = new Option<string>("--cgroup-root") { Description = "the cgroup subtree this instance owns", DefaultValueFactory = _ => "supervisor" };
        var noWatch = new Option<bool>("--no-watch") { Description = "apply unit file changes only on SIGHUP or 'supervisor daemon-reload' (review them first with 'supervisor plan')" };
        var systemBus = new Option<string>("--system-bus") { Description = "also serve the control API on this bus: an address, 'auto' (the system bus if there is one) or 'off'", DefaultValueFactory = _ => "auto" };
        var metrics = new Option<string>("--metrics-listen") { Description = "serve Prometheus metrics at http://ADDRESS:PORT/metrics, or 'off'", DefaultValueFactory = _ => "127.0.0.1:9558" };
        var logMax = new Option<string>("--log-max-size") { Description = "size at which a unit's log is rotated (K M G)", DefaultValueFactory = _ => "8M" };
        var logFiles = new Option<int>("--log-files") { Description = "rotated log files kept per unit", DefaultValueFactory = _ => 2 };
        var verify = new Option<string>("--verify-interval") { Description = "how often every running unit's live isolation and limits are checked in full, besides at each start and each change (a duration, or 'infinity')", DefaultValueFactory = _ => "10min" };
        var admin = new Option<string?>("--admin-group") { Description = "a group whose members may start/stop units over the control API (root always may)" };
        var command = new Command("run", "Run the supervisor in the foreground: start the units and keep them as declared.") { units, state, runtime, cgroup, admin, noWatch, systemBus, metrics, logMax, logFiles, verify };
        // The client-only build becomes the daemon binary here, before any of the daemon's code.
        command.SetAction((result, ct) => DaemonExec.InProcess ? RunInProcessAsync(result, ct) : Task.FromResult(DaemonExec.Become(error)));
        return command;

        async Task<int> RunInProcessAsync(ParseResult result, CancellationToken ct)
        {
            if (!Units.Values.Size.TryParse(result.GetValue(logMax)!, out var logSize) || logSize.IsInfinity || logSize.Bytes < 4096)
            {
                error.WriteLine($"supervisor: --log-max-size: expected a size like \"8M\" (at least 4K), got \"{result.GetValue(logMax)}\"");
                return ExitCodes.Usage;
            }
            if (result.GetValue(logFiles) is < 1 or > 64)
            {
                error.WriteLine($"supervisor: --log-files: expected 1 to 64, got {result.GetValue(logFiles)}");
                return ExitCodes.Usage;
            }
            if (!Units.Values.Duration.TryParse(result.GetValue(verify)!, out var verifyEvery) || (!verifyEvery.IsInfinity && verifyEvery.Microseconds < 1_000_000))
            {
                error.WriteLine($"supervisor: --verify-interval: expected a duration like \"10min\" (at least 1s) or \"infinity\", got \"{result.GetValue(verify)}\"");
                return ExitCodes.Usage;
            }
            var options = new DaemonOptions
            {
                UnitsDirectory = Path.GetFullPath(result.GetValue(units)!),
                StateDirectory = Path.GetFullPath(result.GetValue(state)!),
                RuntimeDirectory = Path.GetFullPath(result.GetValue(runtime)!),
                CgroupRoot = result.GetValue(cgroup)!,
                AdminGroup = result.GetValue(admin),
                AutoReconcile = !result.GetValue(noWatch),
                SystemBus = result.GetValue(systemBus)!,
                MetricsListen = result.GetValue(metrics)!,
                LogMaxBytes = (long)logSize.Bytes,
                LogFiles = result.GetValue(logFiles),
                VerifyInterval = verifyEvery.IsInfinity ? Timeout.InfiniteTimeSpan : verifyEvery.ToTimeSpan(),
            };
            return await RunAsync(options, error, ct);
        }
    }

    public static async Task<int> RunAsync(DaemonOptions options, TextWriter error, CancellationToken cancellationToken)
    {
        if (!LoadOptions.IsRoot)
        {
            error.WriteLine("supervisor: 'run' must run as root: it creates cgroups and namespaces for the units (try: sudo supervisor run …)");
            return ExitCodes.Failure;
        }
        if (!Directory.Exists(options.UnitsDirectory))
        {
            error.WriteLine($"supervisor: units directory '{options.UnitsDirectory}' does not exist (use --units DIR)");
            return ExitCodes.Failure;
        }
        Directory.CreateDirectory(options.StateDirectory);
        Directory.CreateDirectory(options.RuntimeDirectory);

        // No defaults: they add appsettings.json with reload-on-change, which watches the content root
        // (the working directory, "/" under systemd) recursively with inotify and wakes on every
        // file written below it. Options come from the command line; logging can still be tuned
        // by environment (Logging__LogLevel__Default=Debug).
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<Daemon>();
        // Stopping waits for every unit's TimeoutStopSec; the host must not give up first.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(10));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        using var host = builder.Build();
        // Resolved before running: RunAsync disposes the host (and its services) when it ends.
        var daemon = host.Services.GetServices<IHostedService>().OfType<Daemon>().Single();
        await host.RunAsync(cancellationToken);
        return daemon.Failure is null ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
