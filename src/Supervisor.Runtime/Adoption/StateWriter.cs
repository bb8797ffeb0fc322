using Microsoft.Extensions.Logging;
using Supervisor.Supervision;

namespace Supervisor.Runtime.Adoption;

/// <summary>The state file follows every state change of the manager, coalesced: one write per burst.</summary>
public sealed class StateWriter : IDisposable
{
    private readonly UnitManager _manager;
    private readonly StateFile _file;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private int _pending;

    public StateWriter(UnitManager manager, StateFile file, ILogger logger)
    {
        _manager = manager;
        _file = file;
        _logger = logger;
        _timer = new Timer(_ => Write(), null, Timeout.Infinite, Timeout.Infinite);
        manager.StateChanged += OnStateChanged;
        Write();
    }

    private void OnStateChanged(UnitStatus status, UnitRuntime before)
    {
        // A unit that has just become active is written at once, on the manager's thread, before
        // its start job is answered: a supervisor killed right after "started" must leave a file
        // that lets the next one adopt the process, not kill it as a stranger. Without fsync: the
        // page cache outlives a killed process, and the coalesced write below makes it durable.
        if (status.Active is ActiveState.Active && before.Active is not ActiveState.Active)
            Write(durable: false);
        if (Interlocked.Exchange(ref _pending, 1) == 0) _timer.Change(100, Timeout.Infinite);
    }

    /// <summary>What a next supervisor may adopt: every active unit's main process, by pid and start time, and the active units with none (RemainAfterExit).</summary>
    public static Dictionary<string, UnitMemory> Snapshot(UnitManager manager)
    {
        var now = DateTimeOffset.UtcNow;
        var units = new Dictionary<string, UnitMemory>(StringComparer.Ordinal);
        foreach (var (name, s) in manager.Units)
        {
            if (s.Active is not (ActiveState.Active or ActiveState.Reloading)) continue;
            var since = (s.Runtime.ActiveSince is { } ts ? now - TimeProvider.System.GetElapsedTime(ts) : now).ToUnixTimeMilliseconds();
            if (s.Runtime.MainPid is { } pid && StateFile.StartTimeOf(pid) is { } started)
                units[name] = new UnitMemory(pid, started, s.Runtime.NRestarts, since);
            else if (s.Runtime.Sub == SubState.Exited)
                // A oneshot with RemainAfterExit: active with nothing running. Remembered so that
                // the next supervisor does not run it a second time.
                units[name] = new UnitMemory(UnitMemory.NoProcess, "", s.Runtime.NRestarts, since);
        }
        return units;
    }

    private void Write() => Write(durable: true);

    private void Write(bool durable)
    {
        if (durable) Interlocked.Exchange(ref _pending, 0);
        try
        {
            _file.Write(Snapshot(_manager), durable);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("cannot write {State}: {Message}", _file.Path, e.Message);
        }
    }

    public void Dispose()
    {
        _manager.StateChanged -= OnStateChanged;
        _timer.Dispose();
    }
}
