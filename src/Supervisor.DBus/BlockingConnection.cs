using System.Net.Sockets;
using System.Text;
using Supervisor.DBus.Transport;

namespace Supervisor.DBus;

/// <summary>
/// A client connection for a short-lived caller (the `supervisor` command): one thread, blocking
/// reads and writes, poll(2) for the deadline; no read or write loop, no thread pool, no socket
/// engine. What it sends is queued and goes out in one write when a reply is awaited, so the SASL
/// exchange, Hello and the first calls travel together (pipelined, as sd-bus does) and a call
/// costs one round trip. Messages are the same <see cref="Message"/> encoding and decoding the
/// async <see cref="DBusConnection"/> uses. It serves no objects: signals and calls that arrive
/// are dropped. Not thread-safe.
/// </summary>
public sealed class BlockingConnection : IDisposable
{
    /// <summary>A deadline that never passes.</summary>
    public const long NoDeadline = long.MaxValue;

    /// <summary>A unix socket whose listen backlog is full refuses a connect with EAGAIN; retried this often.</summary>
    private const int ConnectAttempts = 50;

    private readonly Socket _socket;
    private readonly int _maxMessageSize;
    private readonly MemoryStream _unsent = new();
    private readonly Dictionary<uint, Message> _early = new();
    private byte[] _buffer = new byte[MessageStream.BufferSize];
    private int _start;
    private int _end;
    private uint _serial;
    private uint? _helloSerial;
    private bool _saslDone;

    private BlockingConnection(Socket socket, int maxMessageSize)
    {
        _socket = socket;
        _maxMessageSize = maxMessageSize;
        PeerCredentials = new UnixTransport(socket).GetPeerCredentials();
    }

    /// <summary>SO_PEERCRED of the other end (a peer-to-peer server itself, or the bus daemon).</summary>
    public PeerCredentials PeerCredentials { get; }

    /// <summary>From Hello's reply, once it came (null on a peer-to-peer connection without Hello).</summary>
    public string? UniqueName { get; private set; }

    /// <summary>True once the server accepted the authentication (and answered Hello, when it was sent).</summary>
    public bool HandshakeDone => _saslDone && _helloSerial is null;

    /// <summary>The deadline (Environment.TickCount64) <paramref name="timeout"/> from now; infinite: <see cref="NoDeadline"/>.</summary>
    public static long DeadlineAfter(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan ? NoDeadline : Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);

    /// <summary>
    /// Connects to <paramref name="address"/> ("unix:path=…", "unix:abstract=…") and queues SASL
    /// EXTERNAL and (with <paramref name="sayHello"/>, for a bus) Hello; nothing is awaited yet.
    /// Throws SocketException when nothing listens there (or its backlog stays full).
    /// </summary>
    public static BlockingConnection Connect(string address, long deadline, bool sayHello, int maxMessageSize = ProtocolConstants.DefaultMaxMessageSize)
    {
        var socket = ConnectSocket(DBusAddress.ParseUnixEndPoint(address), deadline);
        try
        {
            var connection = new BlockingConnection(socket, maxMessageSize);
            connection.Queue(Encoding.ASCII.GetBytes(SaslClient.AuthLine() + "BEGIN\r\n"));
            if (sayHello) connection._helloSerial = connection.Send(Message.MethodCall(DBusConnection.BusName, DBusConnection.BusPath, DBusConnection.BusInterface, "Hello"));
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket ConnectSocket(UnixDomainSocketEndPoint endPoint, long deadline)
    {
        for (int attempt = 1; ; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            try
            {
                socket.Connect(endPoint);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TryAgain or SocketError.WouldBlock
                && attempt < ConnectAttempts && Remaining(deadline) != 0)
            {
                socket.Dispose();
                Thread.Sleep(Math.Min(Math.Min(attempt * 5, 100), Remaining(deadline) is var left and >= 0 ? left : int.MaxValue));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>Queues a method call (sent with the next <see cref="Flush"/> or <see cref="Receive"/>); returns its serial.</summary>
    public uint Send(Message call)
    {
        uint serial = ++_serial;
        Queue(call.Serialize(serial, out _));
        return serial;
    }

    /// <summary>Sends and waits for the reply to one call: its body. An ERROR reply throws <see cref="DBusErrorException"/>.</summary>
    public object[] Call(string? destination, ObjectPath path, string? @interface, string member, string signature, object[] args, long deadline)
    {
        using var reply = Receive(Send(Message.MethodCall(destination, path, @interface, member, signature, args)), deadline);
        return [.. reply.Body];
    }

    /// <summary>
    /// Writes what is queued, then reads until the reply to <paramref name="serial"/> is there
    /// (replies to other calls are kept for their turn). Throws TimeoutException at the deadline,
    /// DBusConnectionClosedException when the peer closes, DBusErrorException for an ERROR reply.
    /// </summary>
    public Message Receive(uint serial, long deadline)
    {
        Flush(deadline);
        while (true)
        {
            if (_early.Remove(serial, out var kept)) return Checked(kept);
            var message = ReadMessage(deadline);
            if (message.Type is not (MessageType.MethodReturn or MessageType.Error) || message.ReplySerial is not { } to)
            {
                message.Dispose(); // a signal, or a call: this connection serves nothing
                continue;
            }
            if (to == _helloSerial)
            {
                _helloSerial = null;
                using (message) UniqueName = Checked(message).Body is [string name] ? name : throw new DBusProtocolException("Hello reply is not a single string");
                continue;
            }
            if (to == serial) return Checked(message);
            _early[to] = message;
        }
    }

    private static Message Checked(Message message)
    {
        if (message.Type != MessageType.Error) return message;
        using (message) throw new DBusErrorException(message.ErrorName!, message.ErrorMessage ?? string.Empty);
    }

    /// <summary>Writes everything queued, waiting for room in the socket up to the deadline.</summary>
    public void Flush(long deadline)
    {
        if (_unsent.Length == 0) return;
        var data = _unsent.GetBuffer().AsSpan(0, (int)_unsent.Length);
        int sent = 0;
        while (sent < data.Length)
        {
            int n = _socket.Send(data[sent..], SocketFlags.None, out var error);
            if (error == SocketError.Success) sent += n;
            else if (error == SocketError.WouldBlock) Wait(SelectMode.SelectWrite, deadline);
            else if (error is SocketError.ConnectionReset or SocketError.Shutdown) throw Closed(null);
            else throw new SocketException((int)error);
        }
        _unsent.SetLength(0);
    }

    private void Queue(ReadOnlySpan<byte> bytes) => _unsent.Write(bytes);

    private Message ReadMessage(long deadline)
    {
        if (!_saslDone) ReadSaslReply(deadline);
        Fill(ProtocolConstants.FixedHeaderLength, deadline);
        int total = Message.GetMessageLength(_buffer.AsSpan(_start, ProtocolConstants.FixedHeaderLength), _maxMessageSize);
        Fill(total, deadline);
        // Parse copies the body out, so the buffer is reused for what follows.
        var message = Message.Parse(_buffer.AsMemory(_start, total), null, _maxMessageSize);
        _start += total;
        if (_start == _end) _start = _end = 0;
        return message;
    }

    /// <summary>The server's answer to AUTH EXTERNAL: "OK GUID", after which the messages start.</summary>
    private void ReadSaslReply(long deadline)
    {
        int newline;
        while ((newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n')) < 0)
        {
            if (_end - _start > ProtocolConstants.MaxAuthLineLength)
                throw new DBusProtocolException($"SASL line longer than {ProtocolConstants.MaxAuthLineLength} bytes");
            Fill(_end - _start + 1, deadline);
        }
        string line = Encoding.ASCII.GetString(_buffer, _start, newline).TrimEnd('\r');
        _start += newline + 1;
        if (!line.StartsWith("OK ", StringComparison.Ordinal))
            throw new DBusProtocolException($"SASL AUTH EXTERNAL failed: server said '{line}'");
        _saslDone = true;
    }

    /// <summary>Reads until <paramref name="count"/> bytes are buffered from _start on.</summary>
    private void Fill(int count, long deadline)
    {
        if (_start + count > _buffer.Length)
        {
            var into = count > _buffer.Length ? new byte[count] : _buffer;
            Buffer.BlockCopy(_buffer, _start, into, 0, _end - _start);
            (_buffer, _end, _start) = (into, _end - _start, 0);
        }
        while (_end - _start < count)
        {
            int n = _socket.Receive(_buffer.AsSpan(_end), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) Wait(SelectMode.SelectRead, deadline);
            else if (error is SocketError.ConnectionReset or SocketError.Shutdown) throw Closed(null);
            else if (error != SocketError.Success) throw new SocketException((int)error);
            else if (n == 0) throw Closed(_end - _start);
            else _end += n;
        }
    }

    private static DBusConnectionClosedException Closed(int? partial) => new(partial is > 0
        ? $"the peer closed the connection in the middle of a message ({partial} bytes received)"
        : "the peer closed the connection");

    /// <summary>poll(2) for readability or room to write, until the deadline (TimeoutException then).</summary>
    private void Wait(SelectMode mode, long deadline)
    {
        while (true)
        {
            int left = Remaining(deadline);
            if (left == 0) throw new TimeoutException("the deadline passed");
            // Socket.Poll takes microseconds in an int: wait at most ~30 min per poll, then look again.
            if (_socket.Poll(left < 0 ? -1 : (int)Math.Min(left * 1000L, 1_800_000_000L), mode)) return;
        }
    }

    /// <summary>Milliseconds to the deadline: -1 without one, 0 when it has passed.</summary>
    private static int Remaining(long deadline) =>
        deadline == NoDeadline ? -1 : (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);

    public void Dispose()
    {
        foreach (var message in _early.Values) message.Dispose();
        _early.Clear();
        _socket.Dispose();
    }
}
