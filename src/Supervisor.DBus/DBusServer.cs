using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Linux.Files;
using Supervisor.Linux.Native;
using Supervisor.DBus.Transport;

namespace Supervisor.DBus;

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
    private readonly PeerQuotas _quotas;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly string _path;
    private Task _acceptLoop = Task.CompletedTask;
    private Task _idleLoop = Task.CompletedTask;
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
        _quotas = new PeerQuotas(options);
    }

    public string Guid { get; }

    public string SocketPath => _path;

    /// <summary>The address clients use: "unix:path=…".</summary>
    public string Address => DBusAddress.ForUnixPath(_path);

    public int ConnectionCount => _clients.Count;

    /// <summary>What <paramref name="uid"/>'s peers hold now (and held at most); null for a uid never seen.</summary>
    public DBusUserUsage? GetUserUsage(uint uid) => _quotas.Usage(uid);

    /// <summary>A peer authenticated. Handlers must not throw (exceptions are swallowed).</summary>
    public event Action<DBusServerClient>? ClientConnected;

    /// <summary>
    /// A peer left, was cut off or was refused: the exception is null for a clean close, a
    /// <see cref="DBusProtocolException"/> for malformed input, a failed handshake, a refused
    /// connection or a broken limit (its message says which), a
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
            if (Libc.Fchmod(listener.SafeHandle, (uint)mode) != 0)
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
        server._idleLoop = Task.Run(server.IdleLoopAsync);
        return server;
    }

    private static void RemoveStaleSocket(string path)
    {
        if (!Statx.TryGet(path, follow: false, out var status, out _)) return;
        if (!status.IsSocket) throw new IOException($"cannot listen on '{path}': it exists and is not a socket");
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
        var transport = new UnixTransport(socket, serverSide: true);
        if (Admit(transport) is not { } admitted) return;
        var (client, budget) = admitted;
        var stream = client.IsPrivileged
            ? new MessageStream(transport, _options.MaxMessageSize, "", budget)
            : new MessageStream(transport, Math.Min(_options.MaxMessageSize, _options.MaxUnprivilegedMessageSize), "for unprivileged peers", budget);
        Exception? reason = await TryAuthenticateAsync(stream, client).ConfigureAwait(false);
        if (reason == null) reason = await RunConnectionAsync(client, stream, budget).ConfigureAwait(false);
        else stream.Dispose();
        _clients.TryRemove(client.Id, out _);
        _quotas.Leave(budget);
        Report(client, reason);
    }

    /// <summary>SO_PEERCRED, the accept filter and the connection limits; null when the peer is turned away (and reported).</summary>
    private (DBusServerClient, PeerBudget)? Admit(UnixTransport transport)
    {
        PeerCredentials credentials;
        try
        {
            credentials = transport.GetPeerCredentials();
        }
        catch (SocketException)
        {
            transport.Dispose();
            return null;
        }
        var client = new DBusServerClient(Interlocked.Increment(ref _nextClientId), credentials, _quotas.IsPrivileged(credentials));
        string? refusal = null;
        var budget = _options.AcceptFilter is { } filter && !filter(credentials)
            ? null
            : _quotas.TryAdmit(credentials, client.IsPrivileged, out refusal);
        if (budget == null)
        {
            transport.Dispose();
            Report(client, new DBusProtocolException(refusal ?? $"refused by the accept filter ({credentials})"));
            return null;
        }
        _clients[client.Id] = client;
        return (client, budget);
    }

    /// <summary>SASL within the auth timeout; null on success, else why it failed.</summary>
    private async Task<Exception?> TryAuthenticateAsync(MessageStream stream, DBusServerClient client)
    {
        using var auth = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        auth.CancelAfter(_options.AuthTimeout);
        try
        {
            await SaslServer.AuthenticateAsync(stream, client.Credentials.UserId, Guid, auth.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
        {
            return new DBusProtocolException($"SASL authentication did not finish within {_options.AuthTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is DBusProtocolException or SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            return e as DBusProtocolException ?? new DBusProtocolException($"SASL failed: {e.Message}", e);
        }
    }

    /// <summary>Serves an authenticated peer until it leaves; returns why it left.</summary>
    private async Task<Exception?> RunConnectionAsync(DBusServerClient client, MessageStream stream, PeerBudget budget)
    {
        var connectionOptions = new DBusConnectionOptions
        {
            SayHello = false,
            Objects = _objects,
            MaxMessageSize = _options.MaxMessageSize,
            MaxOutgoingQueueBytes = _options.MaxOutgoingQueueBytes,
        };
        var connection = DBusConnection.CreateServerSide(stream, connectionOptions, Guid, client.Credentials, _bus.Handle, budget, PeerBus.ServedNamesOwner);
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
        await connection.DisposeAsync().ConfigureAwait(false);
        return reason;
    }

    /// <summary>
    /// Closes unprivileged peers that sent no complete message for <see cref="DBusServerOptions.IdleTimeout"/>
    /// while none of their calls ran, checking a few times per timeout (at least once a second).
    /// </summary>
    private async Task IdleLoopAsync()
    {
        var timeout = _options.IdleTimeout;
        if (timeout <= TimeSpan.Zero || timeout == Timeout.InfiniteTimeSpan) return;
        long timeoutMs = (long)timeout.TotalMilliseconds;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(timeoutMs / 4, 10, 1000)));
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                foreach (var client in _clients.Values)
                {
                    if (!client.IsPrivileged && client.Connection is { } connection && connection.IsIdle(now, timeoutMs))
                        connection.Abort(new DBusProtocolException($"idle: sent no complete message for {timeout.TotalSeconds:0.###} s (the limit for unprivileged peers; send Peer.Ping to stay connected)"));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
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
        await _idleLoop.ConfigureAwait(false);
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
