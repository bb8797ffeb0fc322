using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.DBus.Interop;
using Supervisor.DBus.Transport;

namespace Supervisor.DBus;

public sealed class DBusServerOptions
{
    /// <summary>Well-known names this server answers for (GetNameOwner/NameHasOwner/ListNames).</summary>
    public IReadOnlyCollection<string> Names { get; init; } = Array.Empty<string>();

    public int MaxConnections { get; init; } = ProtocolConstants.DefaultMaxConnections;

    public int MaxMessageSize { get; init; } = ProtocolConstants.DefaultMaxMessageSize;

    public long MaxOutgoingQueueBytes { get; init; } = ProtocolConstants.DefaultMaxOutgoingQueueBytes;

    public TimeSpan AuthTimeout { get; init; } = ProtocolConstants.AuthTimeout;

    /// <summary>Decides at accept time (from SO_PEERCRED, before SASL) whether a peer may connect at all.</summary>
    public Func<PeerCredentials, bool>? AcceptFilter { get; init; }
}

/// <summary>A peer of the server, as reported by its events.</summary>
public sealed class DBusServerClient
{
    internal DBusServerClient(long id, PeerCredentials credentials)
    {
        Id = id;
        Credentials = credentials;
    }

    /// <summary>Accept order, for log lines.</summary>
    public long Id { get; }

    public PeerCredentials Credentials { get; }

    /// <summary>Null until SASL succeeded.</summary>
    public DBusConnection? Connection { get; internal set; }

    public override string ToString() => $"client {Id} ({Credentials})";
}

/// <summary>
/// A peer-to-peer D-Bus server on a unix socket: SASL EXTERNAL against SO_PEERCRED, many
/// clients, the objects of one registry, the org.freedesktop.DBus calls bus clients send
/// first, and signals broadcast to every peer. A peer that breaks the protocol or stops
/// reading is disconnected alone; <see cref="ClientDisconnected"/> says why (the library
/// does not log).
/// </summary>
public sealed class DBusServer : IAsyncDisposable, ISignalSink
{
    /// <summary>
    /// SOMAXCONN (the kernel clamps it to net.core.somaxconn), as systemd uses: a non-blocking
    /// connect() to a unix socket whose backlog is full fails with EAGAIN instead of waiting.
    /// </summary>
    private const int ListenBacklog = 4096;

    private readonly Socket _listener;
    private readonly DBusObjectRegistry _objects;
    private readonly DBusServerOptions _options;
    private readonly PeerBus _bus;
    private readonly ConcurrentDictionary<long, DBusServerClient> _clients = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly string _path;
    private Task _acceptLoop = Task.CompletedTask;
    private long _nextClientId;
    private int _disposed;

    private DBusServer(Socket listener, string path, DBusObjectRegistry objects, DBusServerOptions options)
    {
        _listener = listener;
        _path = path;
        _objects = objects;
        _options = options;
        Guid = SaslServer.NewGuid();
        _bus = new PeerBus(Guid, options.Names);
    }

    public string Guid { get; }

    public string SocketPath => _path;

    /// <summary>The address clients use: "unix:path=…".</summary>
    public string Address => DBusAddress.ForUnixPath(_path);

    public int ConnectionCount => _clients.Count;

    /// <summary>A peer authenticated. Handlers must not throw (exceptions are swallowed).</summary>
    public event Action<DBusServerClient>? ClientConnected;

    /// <summary>
    /// A peer left or was cut off: the exception is null for a clean close, a
    /// <see cref="DBusProtocolException"/> for malformed input or a failed handshake, a
    /// <see cref="DBusConnectionClosedException"/> for a peer that stopped reading.
    /// </summary>
    public event Action<DBusServerClient, Exception?>? ClientDisconnected;

    /// <summary>
    /// Listens on <paramref name="socketPath"/> with file mode <paramref name="mode"/>
    /// (e.g. 0666 and authorize per call by uid). A stale socket nobody listens on is replaced;
    /// a live one is an error.
    /// </summary>
    public static DBusServer Listen(string socketPath, UnixFileMode mode, DBusObjectRegistry objects, DBusServerOptions? options = null)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the D-Bus server needs Linux (SO_PEERCRED, SCM_RIGHTS)");
        options ??= new DBusServerOptions();
        RemoveStaleSocket(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Linux gives the socket file the mode of the socket inode masked by the umask
            // (unix_bind), so fchmod before bind means the file is never more open than asked,
            // without touching the process-wide umask. chmod afterwards restores bits the umask removed.
            if (Libc.FChmod(listener.SafeHandle, (uint)mode) != 0)
                throw new IOException($"fchmod socket for '{socketPath}' failed: errno {Marshal.GetLastPInvokeError()}");
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            File.SetUnixFileMode(socketPath, mode);
            listener.Listen(ListenBacklog);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"bind/listen on '{socketPath}' failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var server = new DBusServer(listener, socketPath, objects, options);
        objects.Attach(server);
        server._acceptLoop = Task.Run(server.AcceptLoopAsync);
        return server;
    }

    private static void RemoveStaleSocket(string path)
    {
        bool isSocket = Libc.IsSocket(path, out bool exists);
        if (!exists) return;
        if (!isSocket) throw new IOException($"cannot listen on '{path}': it exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // Nobody accepts on it: a leftover from a previous run.
            File.Delete(path);
            return;
        }
        throw new IOException($"cannot listen on '{path}': another process is listening on it");
    }

    private async Task AcceptLoopAsync()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // EMFILE and friends: keep serving the peers we have and try again.
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            _ = ServeClientAsync(socket);
        }
    }

    private async Task ServeClientAsync(Socket socket)
    {
        var transport = new UnixTransport(socket);
        PeerCredentials credentials;
        try
        {
            credentials = transport.GetPeerCredentials();
        }
        catch (SocketException)
        {
            transport.Dispose();
            return;
        }
        var client = new DBusServerClient(Interlocked.Increment(ref _nextClientId), credentials);
        if (_clients.Count >= _options.MaxConnections)
        {
            transport.Dispose();
            Report(client, new DBusProtocolException($"refused: {_options.MaxConnections} connections already open"));
            return;
        }
        if (_options.AcceptFilter is { } filter && !filter(credentials))
        {
            transport.Dispose();
            Report(client, new DBusProtocolException($"refused by the accept filter ({credentials})"));
            return;
        }
        _clients[client.Id] = client;
        var stream = new MessageStream(transport, _options.MaxMessageSize);
        try
        {
            using (var auth = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token))
            {
                auth.CancelAfter(_options.AuthTimeout);
                try
                {
                    await SaslServer.AuthenticateAsync(stream, credentials.UserId, Guid, auth.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
                {
                    throw new DBusProtocolException($"SASL authentication did not finish within {_options.AuthTimeout.TotalSeconds:0.###} s");
                }
            }
        }
        catch (Exception e) when (e is DBusProtocolException or SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            stream.Dispose();
            _clients.TryRemove(client.Id, out _);
            Report(client, e as DBusProtocolException ?? new DBusProtocolException($"SASL failed: {e.Message}", e));
            return;
        }

        var connectionOptions = new DBusConnectionOptions
        {
            SayHello = false,
            Objects = _objects,
            MaxMessageSize = _options.MaxMessageSize,
            MaxOutgoingQueueBytes = _options.MaxOutgoingQueueBytes,
        };
        var connection = DBusConnection.CreateServerSide(stream, connectionOptions, Guid, credentials, _bus.Handle);
        client.Connection = connection;
        try
        {
            ClientConnected?.Invoke(client);
        }
        catch (Exception)
        {
            // Event handlers belong to the server owner; a failing one must not drop the peer.
        }
        if (_shutdown.IsCancellationRequested) await connection.DisposeAsync().ConfigureAwait(false);
        Exception? reason = await connection.Completion.ConfigureAwait(false);
        _bus.Forget(connection);
        _clients.TryRemove(client.Id, out _);
        await connection.DisposeAsync().ConfigureAwait(false);
        Report(client, reason);
    }

    private void Report(DBusServerClient client, Exception? reason)
    {
        try
        {
            ClientDisconnected?.Invoke(client, reason);
        }
        catch (Exception)
        {
            // See ClientConnected.
        }
    }

    /// <summary>Sends a signal to every connected peer (peer-to-peer has no bus to filter by match rules).</summary>
    public void Broadcast(Message signal)
    {
        foreach (var client in _clients.Values)
        {
            if (client.Connection is ISignalSink sink) sink.SendSignal(signal);
        }
    }

    void ISignalSink.SendSignal(Message signal) => Broadcast(signal);

    bool ISignalSink.HasPeers => !_clients.IsEmpty;

    /// <summary>Stops listening, disconnects every peer and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _objects.Detach(this);
        _shutdown.Cancel();
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        foreach (var client in _clients.Values)
        {
            if (client.Connection != null) await client.Connection.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Already gone or replaced; nothing of ours to clean up.
        }
        _shutdown.Dispose();
    }
}
