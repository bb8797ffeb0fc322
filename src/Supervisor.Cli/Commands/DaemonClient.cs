using System.CommandLine;
using System.Net.Sockets;
using Supervisor.Cli.Control;
using Supervisor.DBus;

namespace Supervisor.Cli.Commands;

/// <summary>How a client command reaches the daemon: its runtime directory (or --bus) and how long it waits.</summary>
internal sealed record ClientOptions(string RuntimeDirectory, TimeSpan Timeout)
{
    /// <summary>systemctl's and sd-bus's default: a client gives up on a daemon that does not answer.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(25);

    public static Option<string> RuntimeDirOption() =>
        new("--runtime-dir") { Description = "where the daemon's control socket is", DefaultValueFactory = _ => ControlCommands.DefaultRuntimeDirectory };

    /// <summary>--timeout DURATION: systemd's duration syntax ("25s", "2min", "1min 30s", a bare number is seconds) or "infinity".</summary>
    public static Option<TimeSpan?> TimeoutOption() => new("--timeout")
    {
        Description = "how long to wait for the daemon: a duration like 25s or 2min, or infinity (default: 25s)",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            // A timer runs at most 2^32-2 ms (49 days); longer is as good as infinity.
            if (Units.Values.Duration.TryParse(text, out var d) && d.Microseconds > 0)
                return d.IsInfinity || d.ToTimeSpan().TotalMilliseconds > uint.MaxValue - 1 ? System.Threading.Timeout.InfiniteTimeSpan : d.ToTimeSpan();
            result.AddError($"--timeout: expected a duration like \"25s\" or \"2min\" (us, ms, s, min, h; a bare number is seconds) or \"infinity\", got \"{text}\"");
            return null;
        },
    };

    public static ClientOptions From(ParseResult result, Option<string> runtime, Option<TimeSpan?> timeout) =>
        new(result.GetValue(runtime)!, result.GetValue(timeout) ?? DefaultTimeout);

    /// <summary>The timeout as systemd writes durations ("25s", "1min 30s", "500ms"): as the user typed it.</summary>
    public string Describe() => Timeout == System.Threading.Timeout.InfiniteTimeSpan ? "infinity"
        : new Units.Values.Duration((long)Timeout.TotalMicroseconds).ToString();
}

/// <summary>The daemon did not answer in time; the message says how far the conversation got.</summary>
internal sealed class DaemonGaveUpException(string message) : Exception(message);

/// <summary>The daemon could not be reached at all (no socket, nothing listening, refused).</summary>
internal sealed class DaemonUnreachableException(string message) : Exception(message);

/// <summary>
/// One conversation with the daemon under one deadline (--timeout): connecting, the handshake,
/// every call and a job the daemon carries out all count against it. When it passes, the message
/// says what state the daemon was in: not connectable, connected but silent (with its pid and
/// whether it is stopped, when the private socket tells), or alive with the job still going on.
/// </summary>
internal sealed class DaemonClient : IAsyncDisposable
{
    /// <summary>After a job's deadline, how long a look at the unit's state may take.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private static string? _bus;

    /// <summary>Set once per command line from the root's recursive --bus option.</summary>
    internal static void UseBus(string? bus) => _bus = bus;

    private readonly DBusConnection _connection;
    private readonly CancellationTokenSource _deadline;
    private readonly ClientOptions _options;

    /// <summary>The control socket or bus address, for messages.</summary>
    public string Where { get; }

    private DaemonClient(DBusConnection connection, CancellationTokenSource deadline, ClientOptions options, string where)
    {
        _connection = connection;
        _deadline = deadline;
        _options = options;
        Where = where;
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _deadline.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="action"/> against the daemon; every way it can fail is one message on
    /// <paramref name="error"/> and exit 1.
    /// </summary>
    public static async Task<int> RunAsync(ClientOptions options, TextWriter error, Func<DaemonClient, Task<int>> action)
    {
        try
        {
            await using var client = await ConnectAsync(options);
            return await action(client);
        }
        catch (Exception e) when (e is DaemonUnreachableException or DaemonGaveUpException)
        {
            error.WriteLine($"supervisor: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (DBusErrorException e)
        {
            error.WriteLine($"supervisor: {e.Message}" + (e.ErrorName == DBusErrors.AccessDenied ? " (run it as root, e.g. with sudo)" : ""));
            return ExitCodes.Failure;
        }
        catch (DBusConnectionClosedException e)
        {
            error.WriteLine($"supervisor: the daemon closed the connection: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>
    /// Asks the daemon something a command can also find without it (where the unit files or logs
    /// are). No daemon is no error: null then, with a note on <paramref name="error"/> only when one
    /// was there but did not answer in time.
    /// </summary>
    public static async Task<T?> TryAskAsync<T>(ClientOptions options, TextWriter error, Func<DaemonClient, Task<T?>> ask) where T : class
    {
        try
        {
            await using var client = await ConnectAsync(options);
            return await ask(client);
        }
        catch (DaemonUnreachableException)
        {
            return null;
        }
        catch (Exception e) when (e is DaemonGaveUpException or DBusErrorException or DBusConnectionClosedException)
        {
            error.WriteLine($"supervisor: note: {e.Message}; going on without the daemon");
            return null;
        }
    }

    private static async Task<DaemonClient> ConnectAsync(ClientOptions options)
    {
        var socket = Path.Combine(options.RuntimeDirectory, "private");
        string address = _bus is null ? DBusAddress.ForUnixPath(socket)
            : _bus == "system" ? ControlEndpoints.SystemBusAddress("auto") ?? "unix:path=/run/dbus/system_bus_socket"
            : _bus;
        string where = _bus is null ? socket : address;
        if (_bus is null && !File.Exists(socket))
            throw new DaemonUnreachableException($"no control socket at '{socket}': the daemon is not running (start it with 'supervisor run', or use --runtime-dir if it was started with one)");
        var deadline = new CancellationTokenSource();
        if (options.Timeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(options.Timeout);
        try
        {
            // Our deadline bounds each call; the library's own per-call timeout would cut a long job short.
            var connection = await DBusConnection.ConnectAsync(address, new DBusConnectionOptions { CallTimeout = Timeout.InfiniteTimeSpan }, deadline.Token);
            return new DaemonClient(connection, deadline, options, where);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            deadline.Dispose();
            // A unix socket accepts into its backlog even when nobody calls accept(): connect
            // succeeded and the handshake got no answer. Who listens there says why.
            var (who, why) = _bus is null ? DaemonState.Explain(DaemonState.ListenerPid(socket)) : ("the bus", "");
            throw new DaemonGaveUpException($"connected to '{where}', but {who} did not answer the handshake within {options.Describe()}{why}");
        }
        catch (Exception e) when (e is SocketException or IOException or DBusConnectionClosedException or DBusProtocolException or UnauthorizedAccessException)
        {
            deadline.Dispose();
            throw new DaemonUnreachableException(Unreachable(where, e));
        }
    }

    private static string Unreachable(string where, Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } =>
            $"nothing listens on '{where}' (connection refused): the daemon is not running; the socket is left from one that was killed (start it with 'supervisor run')",
        SocketException { SocketErrorCode: SocketError.WouldBlock or SocketError.TryAgain } =>
            $"the daemon at '{where}' is not accepting connections (its queue is full): it is stopped, hung or overloaded",
        _ => $"cannot reach the daemon at '{where}': {e.Message} (is 'supervisor run' running? use --runtime-dir if it was started with one)",
    };

    // ── calls ────────────────────────────────────────────────────────────────────────────────

    public async Task<object[]> CallAsync(string path, string @interface, string member, string signature = "", params object[] args)
    {
        try
        {
            return await _connection.CallAsync(ControlApi.BusName, path, @interface, member, signature, args, _deadline.Token);
        }
        catch (OperationCanceledException) when (_deadline.IsCancellationRequested)
        {
            throw new DaemonGaveUpException(NoReply(member));
        }
    }

    public Task<object[]> ManagerCallAsync(string member, string signature = "", params object[] args) =>
        CallAsync(ControlApi.ManagerPath, ControlApi.ManagerInterface, member, signature, args);

    public async Task<object> GetAsync(string path, string @interface, string property) =>
        ((Variant)(await CallAsync(path, "org.freedesktop.DBus.Properties", "Get", "ss", @interface, property))[0]).Value;

    /// <summary>A manager property an older daemon may lack (UnitsDirectory, LogDirectory …): null then, or when empty.</summary>
    public async Task<string?> OptionalManagerPropertyAsync(string property)
    {
        try
        {
            return await GetAsync(ControlApi.ManagerPath, ControlApi.ManagerInterface, property) is string { Length: > 0 } value ? value : null;
        }
        catch (DBusErrorException e) when (e.ErrorName == DBusErrors.UnknownProperty)
        {
            return null;
        }
    }

    /// <summary>Every io.supervisor.Unit1 property of a unit, by name, with D-Bus's types (u as uint, t as ulong, as as object[] …).</summary>
    public async Task<Dictionary<string, object>> UnitPropertiesAsync(string unit)
    {
        var path = (ObjectPath)(await ManagerCallAsync("GetUnit", "s", unit))[0];
        var all = (await CallAsync(path.ToString(), "org.freedesktop.DBus.Properties", "GetAll", "s", ControlApi.UnitInterface))[0];
        return ((KeyValuePair<object, object>[])all).ToDictionary(kv => (string)kv.Key, kv => ((Variant)kv.Value).Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// A call the daemon answers when it has carried it out (StartUnit … waits for the unit to be
    /// up, Reload for the reconcile). At the deadline it looks once more: a daemon that still
    /// answers is working on it, and the message says that it goes on and how to follow it.
    /// </summary>
    public async Task<object[]> JobAsync(string member, string signature, object[] args, string verb, string? unit)
    {
        try
        {
            return await _connection.CallAsync(ControlApi.BusName, ControlApi.ManagerPath, ControlApi.ManagerInterface, member, signature, args, _deadline.Token);
        }
        catch (OperationCanceledException) when (_deadline.IsCancellationRequested)
        {
            throw new DaemonGaveUpException(await GoesOnAsync(member, verb, unit));
        }
    }

    private async Task<string> GoesOnAsync(string member, string verb, string? unit)
    {
        using var probe = new CancellationTokenSource(ProbeTimeout);
        var gaveUp = $"gave up waiting after {_options.Describe()}";
        try
        {
            if (unit is null)
            {
                await _connection.CallAsync(ControlApi.BusName, ControlApi.ManagerPath, "org.freedesktop.DBus.Peer", "Ping", "", [], probe.Token);
                return $"{gaveUp}: the daemon is working on the {verb}, which goes on; 'supervisor status' shows the units as they are now, 'supervisor plan' what is left to do";
            }
            var path = (ObjectPath)(await _connection.CallAsync(ControlApi.BusName, ControlApi.ManagerPath, ControlApi.ManagerInterface, "GetUnit", "s", [unit], probe.Token))[0];
            var state = new string[2];
            int i = 0;
            foreach (var property in new[] { "ActiveState", "SubState" })
                state[i++] = (string)((Variant)(await _connection.CallAsync(ControlApi.BusName, path, "org.freedesktop.DBus.Properties", "Get", "ss",
                    [ControlApi.UnitInterface, property], probe.Token))[0]).Value;
            return $"{gaveUp}: the {verb} of '{unit}' goes on (it is {state[0]} ({state[1]}) now); follow it with 'supervisor status {unit}' or 'supervisor logs -f {unit}', or wait for it with a longer --timeout (e.g. --timeout 5min, or infinity)";
        }
        catch (OperationCanceledException)
        {
            return NoReply(member);
        }
        catch (DBusErrorException e)
        {
            return $"{gaveUp} for the {verb}{(unit is null ? "" : $" of '{unit}'")}; asking the daemon how far it got failed too: {e.Message}";
        }
    }

    private string NoReply(string member)
    {
        // On the private socket the peer is the daemon itself (SO_PEERCRED); on a bus it would be the bus.
        var (who, why) = DaemonState.Explain(_bus is null ? _connection.PeerCredentials?.ProcessId : null);
        return $"connected to '{Where}', but {who} did not reply to {member} within {_options.Describe()}{why}";
    }
}
