using System.Collections.Concurrent;
using Supervisor.Runtime.Host;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Inspect;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Verify;

/// <summary>
/// Live isolation, checked the way `supervisor inspect` does: a running unit's main process is read
/// from /proc and compared with the plan it was started from (or, for an adopted one, the plan its
/// declaration compiles to). Each new main process is checked two seconds after its start, in a
/// batch, so a start-up burst is not slowed; the sweep checks them all. A mismatch is logged when
/// it appears and exported as supervisor_unit_sandbox_drift.
/// </summary>
public sealed class IsolationVerifier(UnitManager manager, UnitHost host) : IDisposable
{
    private readonly ConcurrentDictionary<string, bool> _drift = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _queue = new();
    private int _scheduled;
    private Timer? _timer;

    /// <summary>Whether the unit's live isolation differed from its plan at the last check (null: no verdict).</summary>
    public bool? DriftOf(string unit) => _drift.TryGetValue(unit, out var d) ? d : null;

    /// <summary>Checks a new main process once the burst it came with is over.</summary>
    public void OnStateChanged(UnitStatus status, UnitRuntime before)
    {
        if (status.Active is ActiveState.Active && status.Runtime.MainPid is not null
            && (before.Active is not ActiveState.Active || before.MainPid != status.Runtime.MainPid))
            Queue(status.Name);
    }

    private void Queue(string name)
    {
        _queue.Enqueue(name);
        if (Interlocked.Exchange(ref _scheduled, 1) == 1) return;
        _timer ??= new Timer(_ => RunQueued(), null, Timeout.Infinite, Timeout.Infinite);
        _timer.Change(2000, Timeout.Infinite);
    }

    private void RunQueued()
    {
        Interlocked.Exchange(ref _scheduled, 0);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (_queue.TryDequeue(out var name))
            if (seen.Add(name) && manager.Units.TryGetValue(name, out var status)) Check(status);
        // The checks of a start-up burst allocate as much as the burst did: give it back too.
        if (seen.Count >= 100) GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>Every running unit, now.</summary>
    public void CheckAll()
    {
        foreach (var status in manager.Units.Values) Check(status);
        foreach (var gone in _drift.Keys.Where(k => !manager.Units.ContainsKey(k)).ToList()) _drift.TryRemove(gone, out _);
    }

    /// <summary>The named units, now (those a change acted on).</summary>
    public void Check(IEnumerable<string> units)
    {
        foreach (var name in units)
        {
            if (manager.Units.TryGetValue(name, out var status)) Check(status);
            else _drift.TryRemove(name, out _);
        }
    }

    private void Check(UnitStatus status)
    {
        if (status.Definition is not { Kind: UnitKind.Service } def || status.Active is not ActiveState.Active || status.Runtime.MainPid is not { } pid)
        {
            _drift.TryRemove(status.Name, out _);
            return;
        }
        try
        {
            var plan = host.MainPlanOf(def) ?? host.PlanOf(def).Main?.ExecOrThrow;
            if (plan is null) return;
            Record(status.Name, IsolationCheck.Compare(plan, IsolationState.Read(pid)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or PlanCompileException or InvalidOperationException)
        {
            // The process exited between the state read and now, or /proc is not readable: no verdict this time.
            _drift.TryRemove(status.Name, out _);
        }
    }

    private void Record(string name, IReadOnlyList<InspectLine> lines)
    {
        var mismatches = lines.Where(l => l.Result == CheckResult.Mismatch).ToList();
        bool drift = mismatches.Count > 0;
        bool before = _drift.TryGetValue(name, out var was) && was;
        _drift[name] = drift;
        if (drift && !before)
            host.Log(name, $"sandbox drift: {string.Join("; ", mismatches.Select(m => $"{m.Property} declared {m.Declared}, found {m.Found}"))}");
    }

    public void Dispose() => _timer?.Dispose();
}
