using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Metrics;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Verify;
using Supervisor.Supervision;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Reconcile;

/// <summary>
/// Keeps what runs as the units directory declares: a reconcile on every change of the directory
/// (inotify, debounced), on SIGHUP and D-Bus Reload, and on a timer that is only the safety net
/// (it re-reads nothing unless a file changed or a unit waits to be started). Each reconcile ends
/// with the verification sweep (limits and live isolation of every running unit), which also runs
/// on its own every --verify-interval.
/// </summary>
public sealed class ReconcileLoop(DaemonOptions options, DeclaredUnits declared, UnitManager manager, UnitHost host,
    IsolationVerifier verifier, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _lastFingerprint;
    private DateTime _lastSweep = DateTime.UtcNow;

    /// <summary>Where reconcile durations and actions are counted (null: metrics are off).</summary>
    public SupervisorMetrics? Metrics { get; set; }

    public async Task<IReadOnlyList<PlanAction>> ReconcileAsync(string reason, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, Supervision.Adoption>? adoptions = null)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var started = Stopwatch.GetTimestamp();
            var fingerprint = UnitFilesFingerprint.Of(options.UnitsDirectory);
            if (reason == "timer" && fingerprint == _lastFingerprint && !manager.Units.Values.Any(s => s.DeclaredButNeverRan))
            {
                if (options.VerifyInterval != Timeout.InfiniteTimeSpan && DateTime.UtcNow - _lastSweep >= options.VerifyInterval) Sweep();
                return [];
            }
            var actions = await ApplyAsync(reason, fingerprint, adoptions);
            Metrics?.RecordReconcile(Stopwatch.GetElapsedTime(started), actions.Select(a => a.Kind.ToString().ToLowerInvariant()));
            return actions;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CgroupException)
        {
            logger.LogError("reconcile ({Reason}) failed: {Message}", reason, e.Message);
            return [];
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IReadOnlyList<PlanAction>> ApplyAsync(string reason, long fingerprint, IReadOnlyDictionary<string, Supervision.Adoption>? adoptions)
    {
        var set = declared.Read();
        _lastFingerprint = fingerprint;
        foreach (var d in set.Diagnostics)
            logger.Log(d.Severity == Severity.Error ? LogLevel.Error : LogLevel.Warning, "{Diagnostic}", d.ToString());
        declared.Accept(set);
        host.RefreshHostFacts();
        var actions = await manager.ReconcileAsync(set, adoptions: adoptions);
        if (actions.Count > 0 || reason != "timer")
            logger.LogInformation("reconcile ({Reason}): {Count} action(s)", reason, actions.Count);
        Sweep();
        return actions;
    }

    /// <summary>Every running unit verified: limits written back where they drifted, live isolation compared with its plan.</summary>
    private void Sweep()
    {
        foreach (var status in manager.Units.Values)
            if (status.Definition is { Kind: UnitKind.Service } def && status.Active is ActiveState.Active)
                host.RepairDrift(def);
        verifier.CheckAll();
        _lastSweep = DateTime.UtcNow;
    }

    /// <summary>The safety-net timer, until <paramref name="cancellationToken"/>.</summary>
    public async Task RunTimerAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.ReconcileInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken))
            await ReconcileAsync("timer", cancellationToken);
    }

    /// <summary>inotify on the units directory, debounced: an editor's save is several events.</summary>
    public FileSystemWatcher WatchUnits(CancellationToken cancellationToken)
    {
        var watcher = new FileSystemWatcher(options.UnitsDirectory) { IncludeSubdirectories = true };
        Timer? debounce = null;
        void Changed(object? _, FileSystemEventArgs e)
        {
            debounce?.Dispose();
            debounce = new Timer(_ => _ = ReconcileAsync($"change of {e.Name}", cancellationToken), null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
        }
        watcher.Changed += Changed;
        watcher.Created += Changed;
        watcher.Deleted += Changed;
        watcher.Renamed += (s, e) => Changed(s, e);
        // The kernel's event queue overflowed: changes may have been missed, so look at everything.
        watcher.Error += (_, e) => _ = ReconcileAsync($"missed file events ({e.GetException().Message})", cancellationToken);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }
}
