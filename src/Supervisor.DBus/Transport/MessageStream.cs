using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.DBus.Transport;

/// <summary>
/// Frames one transport into SASL lines and then messages, with a single receive buffer so
/// bytes that follow "BEGIN\r\n" in the same read are the start of the first message.
/// </summary>
internal sealed class MessageStream : IDisposable
{
    /// <summary>
    /// The shared receive buffer: room for the longest SASL line and for every message up to
    /// this size. A longer message gets an array of its own, which the message then keeps as
    /// its body, so the buffer never grows and an idle peer holds only this much.
    /// </summary>
    internal const int BufferSize = 8 * 1024;
    /// <summary>What a large message may make us allocate before its bytes arrive.</summary>
    internal const int LargeFirstChunk = 64 * 1024;

    private readonly UnixTransport _transport;
    private readonly int _maxMessageSize;
    private readonly string _limitName;
    private readonly PeerBudget? _budget;
    private readonly List<UnixFd> _fds = new();
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;

    /// <param name="limitName">Says whose limit <paramref name="maxMessageSize"/> is, in the error for a larger message.</param>
    /// <param name="budget">Where a server charges incoming messages (null: unaccounted, as for clients).</param>
    public MessageStream(UnixTransport transport, int maxMessageSize, string limitName = "", PeerBudget? budget = null)
    {
        _transport = transport;
        _maxMessageSize = maxMessageSize;
        _limitName = limitName;
        _budget = budget;
    }

    public UnixTransport Transport => _transport;

    /// <summary>Set once AGREE_UNIX_FD was exchanged; before that a peer may not send fds.</summary>
    public bool UnixFdsEnabled { get; set; }

    private int Buffered => _end - _start;

    /// <summary>Reads one byte (the SASL leading NUL). Null at end of stream.</summary>
    public async ValueTask<byte?> ReadByteAsync(CancellationToken cancellationToken)
    {
        if (Buffered == 0 && !await FillAsync(1, cancellationToken).ConfigureAwait(false)) return null;
        return _buffer[_start++];
    }

    /// <summary>Reads one "\r\n"-terminated ASCII line (without the terminator); null at end of stream.</summary>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        int scanned = 0;
        while (true)
        {
            int index = _buffer.AsSpan(_start + scanned, Buffered - scanned).IndexOf((byte)'\n');
            if (index >= 0) return TakeLine(_start + scanned + index);
            scanned = Buffered;
            if (Buffered > ProtocolConstants.MaxAuthLineLength)
                throw new DBusProtocolException($"SASL line longer than {ProtocolConstants.MaxAuthLineLength} bytes");
            if (!await FillAsync(Buffered + 1, cancellationToken).ConfigureAwait(false)) return null;
        }
    }

    private string TakeLine(int lineEnd)
    {
        if (lineEnd == _start || _buffer[lineEnd - 1] != '\r') throw new DBusProtocolException("SASL line does not end in \\r\\n");
        var bytes = _buffer.AsSpan(_start, lineEnd - 1 - _start);
        foreach (byte b in bytes)
        {
            if (b < 0x20 || b > 0x7e) throw new DBusProtocolException($"SASL line contains byte 0x{b:x2}, not printable ASCII");
        }
        string line = Encoding.ASCII.GetString(bytes);
        _start = lineEnd + 1;
        return line;
    }

    /// <summary>
    /// Reads one complete, validated message; null when the peer closed cleanly between
    /// messages. Its size is checked from the first 16 bytes and charged to the budget before
    /// any room is made for the rest; the connection gives it back when the message is done.
    /// </summary>
    public async ValueTask<Message?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(ProtocolConstants.FixedHeaderLength, cancellationToken).ConfigureAwait(false))
        {
            if (Buffered == 0) return null;
            throw new DBusProtocolException($"connection closed in the middle of a message header ({Buffered} bytes)");
        }
        int total = Message.GetMessageLength(_buffer.AsSpan(_start, ProtocolConstants.FixedHeaderLength), _maxMessageSize, _limitName);
        _budget?.ReserveIncoming(total);
        return total <= BufferSize
            ? await ReadBufferedMessageAsync(total, cancellationToken).ConfigureAwait(false)
            : await ReadLargeMessageAsync(total, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<Message> ReadBufferedMessageAsync(int total, CancellationToken cancellationToken)
    {
        if (!await FillAsync(total, cancellationToken).ConfigureAwait(false))
            throw new DBusProtocolException($"connection closed in the middle of a {total}-byte message ({Buffered} bytes received)");
        var message = Message.Parse(_buffer.AsMemory(_start, total), _fds, _maxMessageSize, ownsBytes: false);
        _fds.RemoveRange(0, message.UnixFds.Count);
        _start += total;
        if (Buffered == 0) _start = _end = 0;
        return message;
    }

    /// <summary>
    /// A message larger than the buffer: received straight into an array the message keeps. The
    /// whole array is made only once the first <see cref="LargeFirstChunk"/> bytes have arrived: a
    /// 16-byte header announcing 8 MiB must not make us hold 8 MiB for a peer that sends nothing
    /// more, on each of a thousand connections (found by tests/fuzz); a real sender costs one copy of
    /// that first chunk.
    /// </summary>
    private async ValueTask<Message> ReadLargeMessageAsync(int total, CancellationToken cancellationToken)
    {
        int have = Buffered;
        var bytes = new byte[Math.Min(total, LargeFirstChunk)];
        _buffer.AsSpan(_start, have).CopyTo(bytes);
        _start = _end = 0;
        while (have < total)
        {
            if (have == bytes.Length) Array.Resize(ref bytes, total);
            int n = await ReceiveAsync(bytes.AsMemory(have), cancellationToken).ConfigureAwait(false);
            if (n == 0) throw new DBusProtocolException($"connection closed in the middle of a {total}-byte message ({have} bytes received)");
            have += n;
        }
        var message = Message.Parse(bytes, _fds, _maxMessageSize, ownsBytes: true);
        _fds.RemoveRange(0, message.UnixFds.Count);
        return message;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, IReadOnlyList<SafeHandle> fds, CancellationToken cancellationToken) =>
        _transport.SendAsync(data, fds, cancellationToken);

    /// <summary>Receives until <paramref name="count"/> (at most <see cref="BufferSize"/>) bytes are buffered; false at end of stream.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (count > _buffer.Length - _start)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end -= _start;
            _start = 0;
        }
        while (Buffered < count)
        {
            int n = await ReceiveAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0) return false;
            _end += n;
        }
        return true;
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> into, CancellationToken cancellationToken)
    {
        int before = _fds.Count;
        int n = await _transport.ReceiveAsync(into, _fds, cancellationToken).ConfigureAwait(false);
        if (_fds.Count > before && !UnixFdsEnabled)
            throw new DBusProtocolException("peer sent unix fds without negotiating them (NEGOTIATE_UNIX_FD)");
        if (_fds.Count > ProtocolConstants.MaxQueuedUnixFds)
            throw new DBusProtocolException($"peer sent more than {ProtocolConstants.MaxQueuedUnixFds} unix fds that no message claims");
        return n;
    }

    public void Dispose()
    {
        foreach (var fd in _fds) fd.Dispose();
        _fds.Clear();
        _transport.Dispose();
    }
}
