using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Supervisor.DBus.Transport;

namespace Supervisor.DBus;

/// <summary>
/// One authenticated D-Bus connection: a client of a bus or a peer, or the server side of a
/// peer-to-peer connection. Reading and writing are two async loops on the socket engine (no
/// thread per connection); outgoing messages wait in a queue bounded by
/// <see cref="DBusConnectionOptions.MaxOutgoingQueueBytes"/>, beyond which the peer is cut off.
/// </summary>
public sealed partial class DBusConnection : IAsyncDisposable, ISignalSink
{
    public const string BusName = "org.freedesktop.DBus";
    public const string BusInterface = "org.freedesktop.DBus";
    public static readonly ObjectPath BusPath = new("/org/freedesktop/DBus");

    private readonly MessageStream _stream;
    private readonly DBusConnectionOptions _options;
    private readonly Action<DBusConnection, Message>? _busHandler;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Message>> _pending = new();
    private readonly List<(MatchRule Rule, Action<Message> Handler)> _matches = new();
    /// <summary>
    /// The write loop waits here. Synchronous continuations: the thread that queues a message
    /// for an idle connection (a handler sending its reply, a broadcast) runs the write loop on
    /// to the non-blocking send itself, instead of handing every reply to another thread-pool
    /// thread (issue #18); a send that would block still leaves the loop awaiting on its own.
    /// </summary>
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _callSlots = new(ProtocolConstants.MaxConcurrentCallsPerConnection);
    private readonly PeerBudget? _budget;
    private readonly string? _sender;
    private long _queuedBytes;
    private long _lastActivity = Environment.TickCount64;
    private int _callsInFlight;
    private int _serial;
    private int _closing;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;

    private sealed record Outgoing(byte[] Data, IReadOnlyList<SafeHandle> Fds);

    private DBusConnection(MessageStream stream, DBusConnectionOptions options, string guid, PeerCredentials? peer, Action<DBusConnection, Message>? busHandler,
        PeerBudget? budget = null, string? sender = null)
    {
        _stream = stream;
        _budget = budget;
        _sender = sender;
        _options = options;
        ServerGuid = guid;
        PeerCredentials = peer;
        _busHandler = busHandler;
        UnixFdsEnabled = stream.UnixFdsEnabled;
    }

    /// <summary>The unique name: from Hello on a bus, or assigned by our server to a peer that said Hello.</summary>
    public string? UniqueName { get; internal set; }

    /// <summary>True for a client connection to a bus (it said Hello); callers are then identified by SENDER.</summary>
    public bool IsBusConnection { get; private set; }

    public string ServerGuid { get; }

    public bool UnixFdsEnabled { get; }

    /// <summary>SO_PEERCRED of the other end (for a bus client: the bus daemon).</summary>
    public PeerCredentials? PeerCredentials { get; }

    /// <summary>Completes when the connection has closed: null for a clean close, else why.</summary>
    public Task<Exception?> Completion => _closed.Task;

    public bool IsClosed => Volatile.Read(ref _closing) != 0;

    /// <summary>Bytes waiting to be written to the peer.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>
    /// Connects to <paramref name="address"/> ("unix:path=…" or "unix:abstract=…"), authenticates
    /// with SASL EXTERNAL, and (unless <see cref="DBusConnectionOptions.SayHello"/> is false) calls Hello.
    /// </summary>
    public static async Task<DBusConnection> ConnectAsync(string address, DBusConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DBusConnectionOptions();
        var endPoint = DBusAddress.ParseUnixEndPoint(address);
        var transport = await UnixTransport.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        var stream = new MessageStream(transport, options.MaxMessageSize);
        DBusConnection? connection = null;
        try
        {
            var peer = transport.GetPeerCredentials();
            var (guid, _) = await SaslClient.AuthenticateAsync(stream, options.NegotiateUnixFds, cancellationToken).ConfigureAwait(false);
            connection = new DBusConnection(stream, options, guid, peer, busHandler: null);
            connection.Start();
            if (options.SayHello)
            {
                var reply = await connection.CallAsync(BusName, BusPath, BusInterface, "Hello", cancellationToken: cancellationToken).ConfigureAwait(false);
                connection.UniqueName = reply.Length == 1 && reply[0] is string name ? name
                    : throw new DBusProtocolException("Hello reply is not a single string");
                connection.IsBusConnection = true;
            }
            options.Objects?.Attach(connection);
            return connection;
        }
        catch
        {
            if (connection != null) await connection.DisposeAsync().ConfigureAwait(false);
            else stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The server's end of an authenticated peer: messages it sends carry SENDER
    /// <paramref name="sender"/>, and what it receives and queues is charged to <paramref name="budget"/>.
    /// </summary>
    internal static DBusConnection CreateServerSide(MessageStream stream, DBusConnectionOptions options, string guid, PeerCredentials peer,
        Action<DBusConnection, Message> busHandler, PeerBudget? budget, string sender)
    {
        var connection = new DBusConnection(stream, options, guid, peer, busHandler, budget, sender);
        connection.Start();
        return connection;
    }

    private void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync);
        _writeLoop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Queues a message (a fresh serial is assigned); returns that serial.</summary>
    public uint Send(Message message)
    {
        uint serial = NextSerial();
        Enqueue(message, serial);
        return serial;
    }

    /// <summary>Sends a signal; see also <see cref="DBusObjectRegistry.EmitSignal"/>.</summary>
    public void EmitSignal(ObjectPath path, string @interface, string member, string signature = "", params object[] args) =>
        Send(Message.Signal(path, @interface, member, signature, args));

    bool ISignalSink.HasPeers => !IsClosed;

    void ISignalSink.SendSignal(Message signal)
    {
        try
        {
            Send(signal);
        }
        catch (DBusConnectionClosedException)
        {
            // A peer that went away simply misses the signal.
        }
    }

    private uint NextSerial()
    {
        while (true)
        {
            uint serial = unchecked((uint)Interlocked.Increment(ref _serial));
            if (serial != 0) return serial; // 0 is invalid; skip it when the counter wraps
        }
    }

    private void Enqueue(Message message, uint serial)
    {
        byte[] data = message.Serialize(serial, out var fds, bigEndian: false, _sender ?? message.Sender);
        if (data.Length > _options.MaxMessageSize)
            throw new ArgumentException($"{message} is {data.Length} bytes, over the limit of {_options.MaxMessageSize}");
        if (fds.Count > 0 && !UnixFdsEnabled)
            throw new InvalidOperationException($"{message} carries unix fds but the peer did not agree to fd passing");
        if (IsClosed) throw new DBusConnectionClosedException("the D-Bus connection is closed", _closed.Task.IsCompleted ? _closed.Task.Result : null);
        // Hold the handles until they are sent, so a caller disposing them early cannot make
        // us pass a closed (or reused) descriptor number.
        foreach (var fd in fds)
        {
            bool added = false;
            fd.DangerousAddRef(ref added);
        }
        long queued = Interlocked.Add(ref _queuedBytes, data.Length);
        string? overLimit = queued > _options.MaxOutgoingQueueBytes && queued != data.Length
            ? $"peer is not reading: more than {_options.MaxOutgoingQueueBytes} bytes queued for it"
            : _budget != null && !_budget.TryReserveOutgoing(data.Length)
                ? $"peer is not reading: its uid {_budget.User.UserId} would have more than {_budget.MaxOutgoing} bytes queued, the limit per user"
                : null;
        if (overLimit != null)
        {
            ReleaseFds(fds);
            Interlocked.Add(ref _queuedBytes, -data.Length);
            var reason = new DBusConnectionClosedException(overLimit);
            Close(reason);
            throw reason;
        }
        if (!_outgoing.Writer.TryWrite(new Outgoing(data, fds)))
        {
            Dequeued(data, fds);
            throw new DBusConnectionClosedException("the D-Bus connection is closed");
        }
    }

    /// <summary>A queued message was sent or dropped: its fds, its bytes and its charge are given back.</summary>
    private void Dequeued(byte[] data, IReadOnlyList<SafeHandle> fds)
    {
        ReleaseFds(fds);
        Interlocked.Add(ref _queuedBytes, -data.Length);
        _budget?.ReleaseOutgoing(data.Length);
    }

    private static void ReleaseFds(IReadOnlyList<SafeHandle> fds)
    {
        foreach (var fd in fds) fd.DangerousRelease();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var item in _outgoing.Reader.ReadAllAsync(_shutdown.Token).ConfigureAwait(false))
            {
                try
                {
                    await _stream.SendAsync(item.Data, item.Fds, _shutdown.Token).ConfigureAwait(false);
                }
                finally
                {
                    Dequeued(item.Data, item.Fds);
                }
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            Close(new DBusConnectionClosedException($"writing to the D-Bus peer failed: {e.Message}", e));
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var message = await _stream.ReadMessageAsync(_shutdown.Token).ConfigureAwait(false);
                if (message == null)
                {
                    Close(null);
                    return;
                }
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
                await DispatchAsync(message).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
        }
        catch (DBusProtocolException e)
        {
            Close(e);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            Close(IsClosed ? null : new DBusConnectionClosedException($"reading from the D-Bus peer failed: {e.Message}", e));
        }
    }

    private async ValueTask DispatchAsync(Message message)
    {
        switch (message.Type)
        {
            case MessageType.MethodReturn:
            case MessageType.Error:
                _budget?.ReleaseIncoming(message.WireLength);
                if (_pending.TryRemove(message.ReplySerial!.Value, out var waiter)) waiter.TrySetResult(message);
                else message.Dispose(); // a late reply (after a timeout) or one we never asked for
                break;
            case MessageType.Signal:
                DeliverSignal(message);
                _budget?.ReleaseIncoming(message.WireLength);
                break;
            case MessageType.MethodCall:
                // At most MaxConcurrentCallsPerConnection handlers run for one peer; beyond that we
                // stop reading from it, which pushes back on the peer and not on anyone else.
                Interlocked.Increment(ref _callsInFlight);
                try
                {
                    await _callSlots.WaitAsync(_shutdown.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    CallDone(message);
                    throw;
                }
                _ = HandleCallAsync(message);
                break;
            default:
                // Unknown message types must be ignored (spec), though they were validated.
                message.Dispose();
                _budget?.ReleaseIncoming(message.WireLength);
                break;
        }
    }

    private void DeliverSignal(Message message)
    {
        (MatchRule Rule, Action<Message> Handler)[] matches;
        lock (_matches) matches = _matches.ToArray();
        try
        {
            foreach (var (rule, handler) in matches)
            {
                if (!rule.Matches(message)) continue;
                try
                {
                    handler(message);
                }
                catch (Exception e)
                {
                    _options.HandlerError?.Invoke(e);
                }
            }
        }
        finally
        {
            message.Dispose();
        }
    }

    private async Task HandleCallAsync(Message call)
    {
        try
        {
            if (_busHandler != null && (call.Interface == BusInterface || (call.Interface == null && call.Destination == BusName)))
            {
                _busHandler(this, call);
                return;
            }
            var reply = await ObjectDispatcher.DispatchAsync(_options.Objects, this, call).ConfigureAwait(false);
            if (!call.NoReplyExpected) SendReply(call, reply);
        }
        finally
        {
            _callSlots.Release();
            CallDone(call);
        }
    }

    /// <summary>A call was answered (or dropped): its fds close, its bytes leave the budget, and the idle clock restarts.</summary>
    private void CallDone(Message call)
    {
        call.Dispose();
        _budget?.ReleaseIncoming(call.WireLength);
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
        Interlocked.Decrement(ref _callsInFlight);
    }

    /// <summary>True when no call of the peer is running and its last complete message (or answered call) is older than <paramref name="timeoutMs"/>.</summary>
    internal bool IsIdle(long nowMs, long timeoutMs) =>
        Volatile.Read(ref _callsInFlight) == 0 && nowMs - Volatile.Read(ref _lastActivity) >= timeoutMs;

    /// <summary>Closes the connection now, for <paramref name="reason"/> (a server enforcing a limit).</summary>
    internal void Abort(Exception reason) => Close(reason);

    /// <summary>Sends a reply; if it cannot be marshalled (a handler returned the wrong values) the caller gets Failed.</summary>
    internal void SendReply(Message call, Message reply)
    {
        try
        {
            try
            {
                Send(reply);
            }
            catch (ArgumentException e)
            {
                Send(Message.Error(call, DBusErrors.Failed, $"the reply to {call.Member} could not be sent: {e.Message}"));
            }
        }
        catch (DBusConnectionClosedException)
        {
            // The caller went away; nobody is waiting for the reply.
        }
    }

    private void Close(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0) return;
        _options.Objects?.Detach(this);
        _outgoing.Writer.TryComplete();
        _shutdown.Cancel();
        var closed = new DBusConnectionClosedException("the D-Bus connection closed", reason);
        foreach (var key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out var waiter)) waiter.TrySetException(closed);
        }
        _stream.Dispose();
        while (_outgoing.Reader.TryRead(out var item)) Dequeued(item.Data, item.Fds);
        _closed.TrySetResult(reason);
    }

    /// <summary>Flushes what is queued (briefly), then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!IsClosed)
        {
            _outgoing.Writer.TryComplete();
            try
            {
                await _writeLoop.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A peer that does not read does not hold up our shutdown.
            }
        }
        Close(null);
        await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false);
        _shutdown.Dispose();
    }
}
