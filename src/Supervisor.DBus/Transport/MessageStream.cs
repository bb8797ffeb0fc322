using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.DBus.Transport;

/// <summary>
/// Frames one transport into SASL lines and then messages, with a single receive buffer so
/// bytes that follow "BEGIN\r\n" in the same read are the start of the first message.
/// </summary>
internal sealed class MessageStream : IDisposable
{
    private readonly UnixTransport _transport;
    private readonly int _maxMessageSize;
    private readonly List<UnixFd> _fds = new();
    private const int InitialBufferSize = 4096;
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;

    public MessageStream(UnixTransport transport, int maxMessageSize)
    {
        _transport = transport;
        _maxMessageSize = maxMessageSize;
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
            if (index >= 0)
            {
                int lineEnd = _start + scanned + index;
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
            scanned = Buffered;
            if (Buffered > ProtocolConstants.MaxAuthLineLength)
                throw new DBusProtocolException($"SASL line longer than {ProtocolConstants.MaxAuthLineLength} bytes");
            if (!await FillAsync(Buffered + 1, cancellationToken).ConfigureAwait(false)) return null;
        }
    }

    /// <summary>Reads one complete, validated message; null when the peer closed cleanly between messages.</summary>
    public async ValueTask<Message?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(ProtocolConstants.FixedHeaderLength, cancellationToken).ConfigureAwait(false))
        {
            if (Buffered == 0) return null;
            throw new DBusProtocolException($"connection closed in the middle of a message header ({Buffered} bytes)");
        }
        int total = Message.GetMessageLength(_buffer.AsSpan(_start, ProtocolConstants.FixedHeaderLength), _maxMessageSize);
        if (!await FillAsync(total, cancellationToken).ConfigureAwait(false))
            throw new DBusProtocolException($"connection closed in the middle of a {total}-byte message ({Buffered} bytes received)");
        var message = Message.Parse(_buffer.AsMemory(_start, total), _fds, _maxMessageSize);
        _fds.RemoveRange(0, message.UnixFds.Count);
        _start += total;
        if (Buffered == 0)
        {
            _start = _end = 0;
            // Do not keep a multi-megabyte buffer per idle peer after one large message.
            if (_buffer.Length > ProtocolConstants.ReceiveChunkSize) _buffer = new byte[InitialBufferSize];
        }
        return message;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, IReadOnlyList<SafeHandle> fds, CancellationToken cancellationToken) =>
        _transport.SendAsync(data, fds, cancellationToken);

    /// <summary>Receives until <paramref name="count"/> bytes are buffered; false at end of stream.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (count > _buffer.Length - _start && _start > 0)
        {
            // Compact first, so the buffer grows only when the bytes themselves do not fit.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end -= _start;
            _start = 0;
        }
        while (Buffered < count)
        {
            // Grow as the bytes arrive, doubling up to what the (size-checked) message needs, never
            // to the announced size at once: a 16-byte header announcing 8 MiB made us hold 8 MiB
            // for a peer that sent nothing more, on each of a thousand connections (tests/fuzz).
            if (_end == _buffer.Length) Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, _start + count));
            int room = Math.Min(_buffer.Length - _end, ProtocolConstants.ReceiveChunkSize);
            int before = _fds.Count;
            int n = await _transport.ReceiveAsync(_buffer.AsMemory(_end, room), _fds, cancellationToken).ConfigureAwait(false);
            if (_fds.Count > before && !UnixFdsEnabled)
                throw new DBusProtocolException("peer sent unix fds without negotiating them (NEGOTIATE_UNIX_FD)");
            if (_fds.Count > ProtocolConstants.MaxQueuedUnixFds)
                throw new DBusProtocolException($"peer sent more than {ProtocolConstants.MaxQueuedUnixFds} unix fds that no message claims");
            if (n == 0) return false;
            _end += n;
        }
        return true;
    }

    public void Dispose()
    {
        foreach (var fd in _fds) fd.Dispose();
        _fds.Clear();
        _transport.Dispose();
    }
}
