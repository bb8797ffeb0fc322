using Supervisor.Cgroups.Events;

namespace Supervisor.Cgroups;

/// <summary>
/// Reports OOM kills in one cgroup: v2 through inotify on memory.events, v1 through an eventfd
/// registered on memory.oom_control. Raises <see cref="OomKilled"/> with the new total each time
/// the kernel's oom_kill counter rises, and lets callers await the next kill.
/// </summary>
public sealed class OomKillWatcher : IDisposable
{
    private readonly object _gate = new();
    private readonly Func<ulong?> _readCount;
    private readonly bool _settle;
    private readonly List<(ulong After, TaskCompletionSource<ulong> Tcs)> _waiters = [];
    private FdWatch? _watch;
    private ulong _count;
    private bool _disposed;

    internal OomKillWatcher(Func<ulong?> readCount, bool settle)
    {
        _readCount = readCount;
        _settle = settle;
        _count = readCount() ?? 0;
    }

    internal void Start(FdWatchFactory factory)
    {
        _watch = factory(() => OnNotified(_settle));
        // A kill between the first read in the constructor and arming the watch raised no
        // notification we could see: look once more now that the watch is armed.
        OnNotified(settle: false);
    }

    internal delegate FdWatch FdWatchFactory(Action onNotified);

    /// <summary>Raised on the watcher thread with the cgroup's total OOM kill count.</summary>
    public event Action<ulong>? OomKilled;

    /// <summary>The last total seen.</summary>
    public ulong Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Completes with the total once it exceeds <paramref name="after"/>.</summary>
    public Task<ulong> WaitForKillAsync(ulong after, CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_count > after)
            {
                return Task.FromResult(_count);
            }
            _waiters.Add((after, tcs));
        }
        if (cancellationToken.CanBeCanceled)
        {
            var reg = cancellationToken.Register(() => tcs.TrySetCanceled(cancellationToken));
            tcs.Task.ContinueWith(_ => reg.Dispose(), TaskScheduler.Default);
        }
        return tcs.Task;
    }

    private void OnNotified(bool settle)
    {
        if (_readCount() is not { } total)
        {
            return;
        }
        if (settle)
        {
            // v1 signals the eventfd when the group enters OOM, before the victim is chosen and
            // oom_kill is incremented: give the counter a moment to catch up. (No kill at all is
            // possible too: the OOM ended because a process freed memory.)
            var deadline = DateTime.UtcNow + CgroupConstants.V1OomCounterSettle;
            while (total <= Count && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(CgroupConstants.V1OomCounterPoll);
                if (_readCount() is not { } again)
                {
                    return;
                }
                total = again;
            }
        }
        List<TaskCompletionSource<ulong>> done = [];
        lock (_gate)
        {
            if (total <= _count)
            {
                return;
            }
            _count = total;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (total > _waiters[i].After)
                {
                    done.Add(_waiters[i].Tcs);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var tcs in done)
        {
            tcs.TrySetResult(total);
        }
        OomKilled?.Invoke(total);
    }

    public void Dispose()
    {
        List<(ulong, TaskCompletionSource<ulong> Tcs)> waiters;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            waiters = [.. _waiters];
            _waiters.Clear();
        }
        _watch?.Dispose();
        foreach (var w in waiters)
        {
            w.Tcs.TrySetCanceled();
        }
    }
}
