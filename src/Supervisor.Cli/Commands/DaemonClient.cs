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
/// Synchronous on purpose (issue 18): one thread, blocking socket calls, the handshake sent with
/// the first call in one write (<see cref="BlockingConnection"/>); a command starts no thread pool.
/// </summary>
internal sealed class DaemonClient : IDisposable
{
    /// <summary>After a job's deadline, how long a look at the unit's state may take.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private const string Properties = "org.freedesktop.DBus.Properties";

    private static string? _bus;

    /// <summary>Set once per command line from the root's recursive --bus option.</summary>
    internal static void UseBus(string? bus) => _bus = bus;

    private readonly BlockingConnection _connection;
    private readonly long _deadline;
    private readonly ClientOptions _options;

    /// <summary>The control socket or bus address, for messages.</summary>
    public string Where { get; }

    /// <summary>True once the daemon (or the bus) has answered the handshake.</summary>
    public bool Answered => _connection.HandshakeDone;

    private DaemonClient(BlockingConnection connection, long deadline, ClientOptions options, string where)
    {
        _connection = connection;
        _deadline = deadline;
        _options = options;
        Where = where;
    }

    public void Dispose() => _connection.Dispose();

    /// <summary>
    /// Runs <paramref name="action"/> against the daemon; every way it can fail is one message on
    /// <paramref name="error"/> and exit 1.
    /// </summary>
    public static int Run(ClientOptions options, TextWriter error, Func<DaemonClient, int> action)
    {
        try
        {
            using var client = Connect(options);
            return action(client);
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
    public static T? TryAsk<T>(ClientOptions options, TextWriter error, Func<DaemonClient, T?> ask) where T : class
    {
        try
        {
            using var client = Connect(options);
            return ask(client);
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

    private static DaemonClient Connect(ClientOptions options)
    {
        var socket = Path.Combine(options.RuntimeDirectory, "private");
        string address = _bus is null ? DBusAddress.ForUnixPath(socket)
            : _bus == "system" ? ControlEndpoints.SystemBusAddress("auto") ?? "unix:path=/run/dbus/system_bus_socket"
            : _bus;
        string where = _bus is null ? socket : address;
        if (_bus is null && !File.Exists(socket))
            throw new DaemonUnreachableException($"no control socket at '{socket}': the daemon is not running (start it with 'supervisor run', or use --runtime-dir if it was started with one)");
        var deadline = BlockingConnection.DeadlineAfter(options.Timeout);
        try
        {
            // A bus needs Hello first; the daemon's own socket does not (our server answers calls without it).
            return new DaemonClient(BlockingConnection.Connect(address, deadline, sayHello: _bus is not null), deadline, options, where);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
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

    /// <summary>Queues a call to the daemon; it goes out with the next <see cref="Reply"/> (so calls that do not depend on each other share a round trip).</summary>
    public uint Post(string path, string @interface, string member, string signature = "", params object[] args) =>
        _connection.Send(Message.MethodCall(ControlApi.BusName, new ObjectPath(path), @interface, member, signature, args));

    /// <summary>The reply to a posted call, within the conversation's deadline.</summary>
    public object[] Reply(uint serial, string member) => Await(serial, member, _deadline);

    private object[] Await(uint serial, string member, long deadline)
    {
        try
        {
            using var reply = _connection.Receive(serial, deadline);
            return [.. reply.Body];
        }
        catch (TimeoutException)
        {
            throw new DaemonGaveUpException(NoReply(member));
        }
        catch (Exception e) when (!Answered && e is DBusProtocolException or DBusConnectionClosedException or SocketException)
        {
            throw new DaemonUnreachableException(Unreachable(Where, e));
        }
    }

    public object[] Call(string path, string @interface, string member, string signature = "", params object[] args) =>
        Reply(Post(path, @interface, member, signature, args), member);

    public object[] ManagerCall(string member, string signature = "", params object[] args) =>
        Call(ControlApi.ManagerPath, ControlApi.ManagerInterface, member, signature, args);

    public object Get(string path, string @interface, string property) =>
        ((Variant)Call(path, Properties, "Get", "ss", @interface, property)[0]).Value;

    /// <summary>Queues the Get of a manager property, for <see cref="OptionalManagerProperty(uint)"/>.</summary>
    public uint PostManagerProperty(string property) => Post(ControlApi.ManagerPath, Properties, "Get", "ss", ControlApi.ManagerInterface, property);

    /// <summary>A manager property an older daemon may lack (UnitsDirectory, LogDirectory …): null then, or when empty.</summary>
    public string? OptionalManagerProperty(string property) => OptionalManagerProperty(PostManagerProperty(property));

    public string? OptionalManagerProperty(uint posted)
    {
        try
        {
            return ((Variant)Reply(posted, "Get")[0]).Value is string { Length: > 0 } value ? value : null;
        }
        catch (DBusErrorException e) when (e.ErrorName == DBusErrors.UnknownProperty)
        {
            return null;
        }
    }

    /// <summary>Every io.supervisor.Unit1 property of a unit, by name, with D-Bus's types (u as uint, t as ulong, as as object[] …).</summary>
    public Dictionary<string, object> UnitProperties(string unit)
    {
        var path = (ObjectPath)ManagerCall("GetUnit", "s", unit)[0];
        var all = Call(path.ToString(), Properties, "GetAll", "s", ControlApi.UnitInterface)[0];
        return ((KeyValuePair<object, object>[])all).ToDictionary(kv => (string)kv.Key, kv => ((Variant)kv.Value).Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// A call the daemon answers when it has carried it out (StartUnit … waits for the unit to be
    /// up, Reload for the reconcile). At the deadline it looks once more: a daemon that still
    /// answers is working on it, and the message says that it goes on and how to follow it.
    /// </summary>
    public object[] Job(string member, string signature, object[] args, string verb, string? unit)
    {
        var serial = Post(ControlApi.ManagerPath, ControlApi.ManagerInterface, member, signature, args);
        try
        {
            using var reply = _connection.Receive(serial, _deadline);
            return [.. reply.Body];
        }
        catch (TimeoutException) when (Answered)
        {
            throw new DaemonGaveUpException(GoesOn(member, verb, unit));
        }
        catch (TimeoutException)
        {
            throw new DaemonGaveUpException(NoReply(member));
        }
        catch (Exception e) when (!Answered && e is DBusProtocolException or DBusConnectionClosedException or SocketException)
        {
            throw new DaemonUnreachableException(Unreachable(Where, e));
        }
    }

    private string GoesOn(string member, string verb, string? unit)
    {
        var probe = BlockingConnection.DeadlineAfter(ProbeTimeout);
        var gaveUp = $"gave up waiting after {_options.Describe()}";
        try
        {
            if (unit is null)
            {
                Await(Post(ControlApi.ManagerPath, "org.freedesktop.DBus.Peer", "Ping"), "Ping", probe);
                return $"{gaveUp}: the daemon is working on the {verb}, which goes on; 'supervisor status' shows the units as they are now, 'supervisor plan' what is left to do";
            }
            var path = ((ObjectPath)Await(Post(ControlApi.ManagerPath, ControlApi.ManagerInterface, "GetUnit", "s", unit), "GetUnit", probe)[0]).ToString();
            var active = Post(path, Properties, "Get", "ss", ControlApi.UnitInterface, "ActiveState");
            var sub = Post(path, Properties, "Get", "ss", ControlApi.UnitInterface, "SubState");
            var state = $"{((Variant)Await(active, "Get", probe)[0]).Value} ({((Variant)Await(sub, "Get", probe)[0]).Value})";
            return $"{gaveUp}: the {verb} of '{unit}' goes on (it is {state} now); follow it with 'supervisor status {unit}' or 'supervisor logs -f {unit}', or wait for it with a longer --timeout (e.g. --timeout 5min, or infinity)";
        }
        catch (DaemonGaveUpException)
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
        // On the private socket the peer is the daemon itself (SO_PEERCRED); on a bus it is the bus.
        if (!Answered)
        {
            var (who, why) = _bus is null ? DaemonState.Explain(_connection.PeerCredentials.ProcessId) : ("the bus", "");
            return $"connected to '{Where}', but {who} did not answer the handshake within {_options.Describe()}{why}";
        }
        var (daemon, because) = DaemonState.Explain(_bus is null ? _connection.PeerCredentials.ProcessId : null);
        return $"connected to '{Where}', but {daemon} did not reply to {member} within {_options.Describe()}{because}";
    }
}
