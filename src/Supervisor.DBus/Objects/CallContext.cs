namespace Supervisor.DBus;

/// <summary>What a call does, so an authorization hook can tell reads from writes.</summary>
public enum CallKind
{
    Method,
    GetProperty,
    GetAllProperties,
    SetProperty,
}

/// <summary>
/// One incoming call as seen by handlers and the authorization hook: the message, the
/// connection, and the caller's identity.
/// </summary>
public sealed class CallContext
{
    internal CallContext(DBusConnection connection, Message message, CallKind kind, ObjectPath path, string @interface, string member)
    {
        Connection = connection;
        Message = message;
        Kind = kind;
        Path = path;
        Interface = @interface;
        Member = member;
    }

    public DBusConnection Connection { get; }

    /// <summary>The call message; its fds (if any) are closed after the handler returns unless taken.</summary>
    public Message Message { get; }

    public CallKind Kind { get; }

    public ObjectPath Path { get; }

    /// <summary>The target interface: for property access the property's interface, not org.freedesktop.DBus.Properties.</summary>
    public string Interface { get; }

    /// <summary>The target member: the method, or the property name for property access.</summary>
    public string Member { get; }

    /// <summary>SENDER: set by a bus (trustworthy there), absent or caller-chosen on peer-to-peer.</summary>
    public string? Sender => Message.Sender;

    /// <summary>
    /// The caller's credentials. Peer-to-peer: SO_PEERCRED of the socket (the kernel's word,
    /// never the SENDER field). On a bus: org.freedesktop.DBus.GetConnectionCredentials(SENDER).
    /// </summary>
    public async ValueTask<PeerCredentials> GetCallerCredentialsAsync(CancellationToken cancellationToken = default)
    {
        if (!Connection.IsBusConnection)
            return Connection.PeerCredentials ?? throw new InvalidOperationException("the connection has no peer credentials");
        if (Sender == null) throw new DBusErrorException(DBusErrors.AccessDenied, "the bus did not say who sent this call");
        var reply = await Connection.CallAsync(DBusConnection.BusName, DBusConnection.BusPath, DBusConnection.BusInterface,
            "GetConnectionCredentials", "s", new object[] { Sender }, cancellationToken).ConfigureAwait(false);
        var dict = (KeyValuePair<object, object>[])reply[0];
        uint uid = uint.MaxValue;
        int pid = 0;
        uint[] groups = Array.Empty<uint>();
        foreach (var (key, value) in dict)
        {
            var v = (Variant)value;
            switch ((string)key)
            {
                case "UnixUserID" when v.Value is uint u: uid = u; break;
                case "ProcessID" when v.Value is uint p: pid = (int)p; break;
                case "UnixGroupIDs" when v.Value is uint[] g: groups = g; break;
            }
        }
        if (uid == uint.MaxValue) throw new DBusErrorException(DBusErrors.AccessDenied, $"the bus gave no uid for '{Sender}'");
        // The bus reports all groups without saying which is primary; take the first as gid.
        return new PeerCredentials(pid, uid, groups.Length > 0 ? groups[0] : uint.MaxValue, groups);
    }
}
