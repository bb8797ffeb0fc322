using System.Collections.Concurrent;
using System.Globalization;

namespace Supervisor.DBus;

/// <summary>
/// The few org.freedesktop.DBus calls a peer-to-peer server answers so that bus-minded clients
/// work unchanged: `busctl --address` and `gdbus --address` always send Hello first (and fail
/// without an answer); others ask GetNameOwner, AddMatch or GetId. There is no routing: names
/// are bookkeeping only, and signals go to every peer (as on systemd's private socket).
/// </summary>
internal sealed class PeerBus
{
    private const string MatchRuleNotFound = "org.freedesktop.DBus.Error.MatchRuleNotFound";

    /// <summary>
    /// Who owns the names the server answers for, and so the SENDER of everything the server
    /// sends: the "bus" itself. GDBus and Tmds.DBus resolve a sender-filtered subscription to a
    /// well-known name with GetNameOwner and then compare SENDER with the answer verbatim, and
    /// they accept the bus's own signals (NameAcquired, NameOwnerChanged) only from
    /// org.freedesktop.DBus; one name for every message must therefore be this one.
    /// dbus-daemon answers GetNameOwner("org.freedesktop.DBus") the same way.
    /// </summary>
    public const string ServedNamesOwner = DBusConnection.BusName;

    private readonly string _guid;
    private readonly IReadOnlyCollection<string> _serverNames;
    private readonly ConcurrentDictionary<DBusConnection, List<string>> _matchRules = new();
    private readonly ConcurrentDictionary<string, DBusConnection> _owners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DBusConnection> _uniqueNames = new(StringComparer.Ordinal);
    private int _nextId;

    public PeerBus(string guid, IReadOnlyCollection<string> serverNames)
    {
        _guid = guid;
        _serverNames = serverNames;
    }

    public void Forget(DBusConnection connection)
    {
        _matchRules.TryRemove(connection, out _);
        if (connection.UniqueName != null) _uniqueNames.TryRemove(connection.UniqueName, out _);
        foreach (var (name, owner) in _owners)
        {
            if (owner == connection) _owners.TryRemove(name, out _);
        }
    }

    public void Handle(DBusConnection connection, Message call)
    {
        Message? reply;
        try
        {
            reply = call.Member switch
            {
                "Hello" => Hello(connection, call),
                "RequestName" => Expect(call, "su") ?? RequestName(connection, call),
                "ReleaseName" => Expect(call, "s") ?? ReleaseName(connection, call),
                "GetNameOwner" => Expect(call, "s") ?? GetNameOwner(call),
                "NameHasOwner" => Expect(call, "s") ?? Message.MethodReturn(call, "b", Owner((string)call.Body[0]) != null),
                "ListNames" => Expect(call, "") ?? Message.MethodReturn(call, "as", ListNames()),
                "GetId" => Expect(call, "") ?? Message.MethodReturn(call, "s", _guid),
                "AddMatch" => Expect(call, "s") ?? AddMatch(connection, call),
                "RemoveMatch" => Expect(call, "s") ?? RemoveMatch(connection, call),
                _ => Message.Error(call, DBusErrors.UnknownMethod, $"Unknown method '{call.Member}' on interface '{DBusConnection.BusInterface}'."),
            };
        }
        catch (DBusErrorException e)
        {
            reply = Message.Error(call, e.ErrorName, e.Message);
        }
        if (reply != null && !call.NoReplyExpected) connection.SendReply(call, reply);
    }

    /// <summary>Sends the reply and NameAcquired itself (in that order) and returns null.</summary>
    private Message? Hello(DBusConnection connection, Message call)
    {
        if (connection.UniqueName != null)
            throw new DBusErrorException(DBusErrors.Failed, "Already handled an Hello message");
        string name = ":1." + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        connection.UniqueName = name;
        _uniqueNames[name] = connection;
        if (!call.NoReplyExpected) connection.SendReply(call, Message.MethodReturn(call, "s", name));
        // dbus-daemon follows the reply with NameAcquired for the unique name.
        connection.SendReply(call, new Message
        {
            Type = MessageType.Signal,
            Path = DBusConnection.BusPath,
            Interface = DBusConnection.BusInterface,
            Member = "NameAcquired",
            Sender = DBusConnection.BusName,
            Destination = name,
            Signature = new Signature("s"),
            Body = new object[] { name },
        });
        return null;
    }

    private Message RequestName(DBusConnection connection, Message call)
    {
        string name = (string)call.Body[0];
        if (!Names.IsValidBusName(name) || name.StartsWith(':') || name == DBusConnection.BusName)
            throw new DBusErrorException(DBusErrors.InvalidArgs, $"Cannot acquire the name '{name}'.");
        if (_serverNames.Contains(name)) return Message.MethodReturn(call, "u", (uint)RequestNameReply.Exists);
        // No queueing: a name has one owner until it is released or its owner disconnects.
        RequestNameReply result = _owners.TryAdd(name, connection) ? RequestNameReply.PrimaryOwner
            : _owners.TryGetValue(name, out var owner) && owner == connection ? RequestNameReply.AlreadyOwner
            : RequestNameReply.Exists;
        return Message.MethodReturn(call, "u", (uint)result);
    }

    private Message ReleaseName(DBusConnection connection, Message call)
    {
        string name = (string)call.Body[0];
        if (!_owners.TryGetValue(name, out var owner)) return Message.MethodReturn(call, "u", 2u);
        if (owner != connection) return Message.MethodReturn(call, "u", 3u);
        _owners.TryRemove(name, out _);
        return Message.MethodReturn(call, "u", 1u);
    }

    private Message GetNameOwner(Message call)
    {
        string name = (string)call.Body[0];
        return Message.MethodReturn(call, "s", Owner(name)
            ?? throw new DBusErrorException(DBusErrors.NameHasNoOwner, $"Could not get owner of name '{name}': no such name"));
    }

    /// <summary>Names the server answers for are owned by the "bus" itself: the server is the only real service.</summary>
    private string? Owner(string name)
    {
        if (name == DBusConnection.BusName || _serverNames.Contains(name)) return ServedNamesOwner;
        if (_uniqueNames.ContainsKey(name)) return name;
        return _owners.TryGetValue(name, out var owner) ? owner.UniqueName : null;
    }

    private string[] ListNames() =>
        new[] { DBusConnection.BusName }.Concat(_serverNames).Concat(_uniqueNames.Keys).Concat(_owners.Keys).Distinct().ToArray();

    private Message AddMatch(DBusConnection connection, Message call)
    {
        string rule = (string)call.Body[0];
        try
        {
            MatchRule.Parse(rule);
        }
        catch (FormatException e)
        {
            throw new DBusErrorException(DBusErrors.MatchRuleInvalid, e.Message);
        }
        var rules = _matchRules.GetOrAdd(connection, _ => new List<string>());
        lock (rules)
        {
            if (rules.Count >= ProtocolConstants.MaxMatchRulesPerConnection)
                throw new DBusErrorException(DBusErrors.LimitsExceeded, $"Connection has more than {ProtocolConstants.MaxMatchRulesPerConnection} match rules.");
            rules.Add(rule);
        }
        return Message.MethodReturn(call);
    }

    private Message RemoveMatch(DBusConnection connection, Message call)
    {
        string rule = (string)call.Body[0];
        if (_matchRules.TryGetValue(connection, out var rules))
        {
            lock (rules)
            {
                if (rules.Remove(rule)) return Message.MethodReturn(call);
            }
        }
        throw new DBusErrorException(MatchRuleNotFound, $"The match rule '{rule}' was not found.");
    }

    private static Message? Expect(Message call, string signature) =>
        call.Signature.Value == signature
            ? null
            : Message.Error(call, DBusErrors.InvalidArgs, $"Method '{call.Member}' takes arguments of type '{signature}', got '{call.Signature}'.");
}
