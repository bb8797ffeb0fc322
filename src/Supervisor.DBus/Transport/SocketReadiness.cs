using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Supervisor.Linux;

namespace Supervisor.DBus.Transport;

/// <summary>
/// Waits for a server-side socket to become readable on the D-Bus server's own epoll loop, and
/// continues the waiting read loop on that loop's thread (issue #18): a call is read, dispatched,
/// answered and written by the thread epoll woke, with no hand-off to the thread pool per message
/// (the socket engine's wake-up would queue the read loop's continuation to a pool thread, so a
/// round trip paid a futex wake and a context switch). dbus-daemon serves its peers the same way,
/// from one poll loop. The watch is edge-triggered: the read loop reads until EAGAIN, then waits
/// here; readiness that arrives while nobody waits is kept for the next wait. A handler that awaits
/// real work leaves the loop at its first await, so only synchronous handler code runs on it.
/// </summary>
internal sealed class SocketReadiness : IValueTaskSource, IDisposable
{
    private static readonly Lazy<EventLoop> ServerLoop = new(() => EventLoop.Dedicated("D-Bus server"));

    private readonly object _gate = new();
    private readonly ulong _watch;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _cancel;
    // Readable since the last wait began; starts true, so the first wait tries a read first.
    private bool _ready = true;
    private bool _waiting;
    private bool _disposed;

    public SocketReadiness(Socket socket)
    {
        _watch = ServerLoop.Value.Add(socket.SafeHandle, _ => Complete(null), ended: () => Complete(null), edgeTriggered: true);
    }

    /// <summary>Completes when the socket has become readable (or reported an error or hang-up, which the next read returns).</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ready)
            {
                _ready = false;
                return ValueTask.CompletedTask;
            }
            cancellationToken.ThrowIfCancellationRequested();
            _core.Reset();
            _waiting = true;
        }
        _cancel = cancellationToken.UnsafeRegister(static (state, token) => ((SocketReadiness)state!).Complete(new OperationCanceledException(token)), this);
        return new ValueTask(this, _core.Version);
    }

    private void Complete(Exception? error)
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                if (error == null) _ready = true;
                return;
            }
            _waiting = false;
        }
        // No RunContinuationsAsynchronously: the read loop goes on right here.
        if (error == null) _core.SetResult(true);
        else _core.SetException(error);
    }

    void IValueTaskSource.GetResult(short token)
    {
        _cancel.Unregister();
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Ends the watch (before the socket closes: its fd number may be reused at once); a waiting read ends with ObjectDisposedException.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        ServerLoop.Value.Remove(_watch);
        Complete(new ObjectDisposedException(nameof(SocketReadiness)));
    }
}
