using System.Buffers;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Supervision.Logs;

/// <summary>
/// One stream of a service (stdout or stderr) read into its unit's log until EOF, line by line.
/// A main process's stream is kept across its restarts (the next run writes into the same socket
/// pair, so no line of either run is lost or reordered); <see cref="EndOfRun"/> marks where the run
/// that ended stops, so its unfinished last line is logged on its own instead of being joined to
/// the next run's first one. Reading and marking happen under one lock: the mark counts exactly
/// the bytes the ended run left unread.
/// </summary>
public sealed class LogPump
{
    private const int BufferBytes = 8192;

    private readonly UnitLog _log;
    private readonly Socket _socket;
    private readonly string _stream;
    private readonly bool _levelPrefix;
    private readonly object _gate = new();
    private readonly List<byte> _pending = [];
    private long _consumed;
    /// <summary>Where the ended run's output stops, in bytes read; -1: no mark.</summary>
    private long _runEnd = -1;
    private string? _last;

    private LogPump(UnitLog log, Socket socket, string stream, bool levelPrefix)
    {
        _log = log;
        // Non-blocking in .NET's own terms: its synchronous Receive below then answers WouldBlock.
        // A descriptor that arrives already O_NONBLOCK (taken back from the fd holder after a
        // supervisor's kill -9) is otherwise "blocking" to .NET while its handle is not, and every
        // synchronous Receive on it throws InvalidOperationException: the pump ended at its first
        // read and an adopted service's output never reached the log.
        socket.Blocking = false;
        _socket = socket;
        _stream = stream;
        _levelPrefix = levelPrefix;
    }

    /// <summary>Ends at EOF (every writer closed) with the last non-empty line read, or at cancellation.</summary>
    public Task<string?> Completion { get; private set; } = null!;

    internal static LogPump Start(UnitLog log, Socket socket, string stream, bool levelPrefix, CancellationToken cancellationToken)
    {
        var pump = new LogPump(log, socket, stream, levelPrefix);
        pump.Completion = pump.RunAsync(cancellationToken);
        return pump;
    }

    /// <summary>
    /// The process that wrote here is gone and the next one is about to start: what is unread now
    /// is the ended run's, and its unfinished line (no newline at the end) is logged once read.
    /// </summary>
    public void EndOfRun()
    {
        lock (_gate)
        {
            int unread;
            try
            {
                unread = _socket.Available;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return; // the pump has ended: it flushed at EOF
            }
            if (unread > 0) _runEnd = _consumed + unread;
            else FlushPending();
        }
    }

    private async Task<string?> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            // A zero-byte read waits for data without holding a buffer: a thousand quiet services
            // cost no receive buffers. The buffer is borrowed only while there is output to copy.
            while (true)
            {
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (!ReadAvailable()) break;
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
        lock (_gate)
        {
            FlushPending();
            _socket.Dispose();
            return _last;
        }
    }

    /// <summary>One read of what is there, into lines; false at EOF.</summary>
    private bool ReadAvailable()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            lock (_gate)
            {
                // Never a read that could wait under the lock (EndOfRun would wait behind it): the
                // zero-byte wait may end with nothing to read. No data but readable is EOF.
                int available = _socket.Available;
                if (available == 0) return !_socket.Poll(0, SelectMode.SelectRead);
                // Up to the mark at most: the ended run's bytes are split apart from the next run's.
                int max = (int)Math.Min(Math.Min(buffer.Length, available), _runEnd >= 0 ? _runEnd - _consumed : long.MaxValue);
                int n = _socket.Receive(buffer.AsSpan(0, max), SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock) return true;
                if (error != SocketError.Success || n == 0) return false;
                _consumed += n;
                _last = _log.Split(buffer, n, _pending, _stream, Encoding.UTF8, _levelPrefix) ?? _last;
                if (_runEnd >= 0 && _consumed >= _runEnd)
                {
                    _runEnd = -1;
                    FlushPending();
                }
                return true;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void FlushPending()
    {
        if (_pending.Count > 0) _last = UnitLog.NonEmpty(_log.Flush(_pending, [], _stream, Encoding.UTF8, _levelPrefix)) ?? _last;
    }
}
