namespace Supervisor.Supervision;

/// <summary>
/// Who runs the manager. Its work queue is drained by one thread at a time, holding the turn: the
/// manager's loop (<see cref="RunAsync"/>, on the thread pool), or a <see cref="PostNow"/> caller
/// that finds the manager idle — the event loop thread reporting a reaped exit. Then the exit,
/// the restart policy's decision and a RestartSec=0 restart run on that thread, with no wake-up
/// of a pool worker in between. Work a drain makes for itself (an event the host posts back at
/// once, a zero-delay timer) stays with that drain instead of going through the channel, which
/// would wake the loop for nothing.
/// </summary>
public sealed partial class UnitManager
{
    private readonly object _turn = new();
    /// <summary>Work made while draining, by the draining thread itself: processed after what the channel holds, in order.</summary>
    private readonly Queue<Work> _local = new();
    /// <summary>The managed id of the thread draining now; 0: none.</summary>
    private int _drainingThread;
    private bool _running;

    private bool OnDrainingThread => Volatile.Read(ref _drainingThread) == Environment.CurrentManagedThreadId;

    private void Enqueue(Work work)
    {
        if (OnDrainingThread) _local.Enqueue(work);
        else _queue.Writer.TryWrite(work);
    }

    /// <summary>
    /// Handled here and now when the manager runs (<see cref="RunAsync"/>) and is idle; otherwise
    /// queued, like <see cref="Post"/>. Never nested: a call from inside a drain is queued to it.
    /// </summary>
    public void PostNow(string unit, UnitEvent e)
    {
        if (OnDrainingThread || !Volatile.Read(ref _running) || _queue.Reader.Count > 0 || !Monitor.TryEnter(_turn))
        {
            Post(unit, e);
            return;
        }
        try
        {
            _local.Enqueue(new EventWork(unit, e));
            Drain();
        }
        finally
        {
            Monitor.Exit(_turn);
        }
    }

    /// <summary>Processes the channel's work and the drain's own until both are empty; the caller holds the turn.</summary>
    private void Drain()
    {
        Volatile.Write(ref _drainingThread, Environment.CurrentManagedThreadId);
        try
        {
            while (_queue.Reader.TryRead(out var work) || _local.TryDequeue(out work))
                Process(work);
        }
        finally
        {
            Volatile.Write(ref _drainingThread, 0);
            // Only after a failure is anything left: it goes to whoever drains next.
            while (_local.TryDequeue(out var left)) _queue.Writer.TryWrite(left);
        }
    }
}
