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
/// Keeps what runs as the units directory declares. A change of the directory (inotify) re-reads
/// only the files it names and what depends on them, as soon as the burst of events is over
/// (<see cref="UnitFileChanges"/>); SIGHUP, D-Bus Reload and lost events re-read everything; the
/// timer is only the safety net (it re-reads nothing unless a file changed, then only the units
/// whose files look different, or a unit waits to be started). A full reconcile ends with the
/// verification sweep (limits and live isolation of every running unit), which also runs on its
/// own every --verify-interval; a change verifies the units it acted on.
/// </summary>
public sealed class ReconcileLoop(DaemonOptions options, DeclaredUnits declared, UnitManager manager, UnitHost host,
    IsolationVerifier verifier, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _lastFingerprint;
    private DateTime _lastSweep = DateTime.UtcNow;

    /// <summary>Where reconcile durations and actions are counted (null: metrics are off).</summary>
    public SupervisorMetrics? Metrics { get; set; }

    /// <summary>
    /// Everything re-read ("SIGHUP", "D-Bus Reload" …); "timer": only what changed since it was
    /// read; "start": only what changed since the daemon read the directory to find what to adopt.
    /// </summary>
    public Task<IReadOnlyList<PlanAction>> ReconcileAsync(string reason, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, Supervision.Adoption>? adoptions = null) =>
        RunAsync(reason, reason is "timer" or "start" ? ReadScope.Stale : ReadScope.Everything, null, cancellationToken, adoptions);

    /// <summary>The files <paramref name="paths"/> changed: they and what depends on them are read again, nothing else.</summary>
    public Task<IReadOnlyList<PlanAction>> ReconcileChangesAsync(IReadOnlyCollection<string> paths, CancellationToken cancellationToken) =>
        RunAsync($"change of {string.Join(", ", paths.Select(p => Path.GetRelativePath(options.UnitsDirectory, p)).Order(StringComparer.Ordinal))}",
            ReadScope.Changed, paths, cancellationToken, null);

    private async Task<IReadOnlyList<PlanAction>> RunAsync(string reason, ReadScope scope, IReadOnlyCollection<string>? paths,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, Supervision.Adoption>? adoptions)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var started = Stopwatch.GetTimestamp();
            if (scope == ReadScope.Stale)
            {
                var fingerprint = UnitFilesFingerprint.Of(options.UnitsDirectory);
                if (fingerprint == _lastFingerprint && !manager.Units.Values.Any(s => s.DeclaredButNeverRan))
                {
                    if (options.VerifyInterval != Timeout.InfiniteTimeSpan && DateTime.UtcNow - _lastSweep >= options.VerifyInterval) Sweep(null);
                    return [];
                }
                _lastFingerprint = fingerprint;
            }
            var actions = await ApplyAsync(reason, scope, paths, started, adoptions);
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

    private async Task<IReadOnlyList<PlanAction>> ApplyAsync(string reason, ReadScope scope, IReadOnlyCollection<string>? paths, long started,
        IReadOnlyDictionary<string, Supervision.Adoption>? adoptions)
    {
        var set = declared.Read(scope, paths);
        var read = Stopwatch.GetElapsedTime(started);
        foreach (var d in ToLog(set, scope))
            logger.Log(d.Severity == Severity.Error ? LogLevel.Error : LogLevel.Warning, "{Diagnostic}", d.ToString());
        declared.Accept(set);
        host.RefreshHostFacts();
        var actions = await manager.ReconcileAsync(set, adoptions: adoptions);
        var applied = Stopwatch.GetElapsedTime(started);
        Sweep(scope == ReadScope.Changed ? actions.Select(a => a.Unit).ToHashSet(StringComparer.Ordinal) : null);
        if (actions.Count > 0 || scope != ReadScope.Stale || reason == "start")
            logger.LogInformation("reconcile ({Reason}): {Count} action(s); {Parsed} of {Units} unit(s) parsed, read in {Read:F1} ms, applied at {Applied:F1} ms",
                reason, actions.Count, declared.LastParsed.Count, set.Units.Count + set.BadUnits.Count, read.TotalMilliseconds, applied.TotalMilliseconds);
        return actions;
    }

    private HashSet<string> _logged = new(StringComparer.Ordinal);

    /// <summary>A full read logs every diagnostic; a change those of the units it parsed and any other that is new (a reference it broke).</summary>
    private IEnumerable<Diagnostic> ToLog(UnitSet set, ReadScope scope)
    {
        var before = _logged;
        _logged = set.Diagnostics.Select(d => d.ToString()).ToHashSet(StringComparer.Ordinal);
        return scope == ReadScope.Everything ? set.Diagnostics
            : set.Diagnostics.Where(d => declared.LastParsed.Contains(d.Unit) || !before.Contains(d.ToString()));
    }

    /// <summary>
    /// Running units verified: limits written back where they drifted, live isolation compared
    /// with its plan. Null: every unit (and the time of the sweep is remembered).
    /// </summary>
    private void Sweep(IReadOnlySet<string>? only)
    {
        foreach (var status in manager.Units.Values)
            if ((only is null || only.Contains(status.Name)) && status.Definition is { Kind: UnitKind.Service } def && status.Active is ActiveState.Active)
                host.RepairDrift(def);
        if (only is not null)
        {
            verifier.Check(only);
            return;
        }
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

    /// <summary>inotify on the units directory: each burst of changes reconciled once it is over; lost events re-read everything.</summary>
    public IDisposable WatchUnits(CancellationToken cancellationToken) =>
        new UnitFileChanges(options.UnitsDirectory, paths => paths is null
            ? ReconcileAsync("missed file events", cancellationToken)
            : ReconcileChangesAsync(paths, cancellationToken));
}
