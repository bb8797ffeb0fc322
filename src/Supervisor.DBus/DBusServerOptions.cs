namespace Supervisor.DBus;

/// <summary>
/// Settings of a peer-to-peer server. The defaults are the secure ones (named limits in
/// <see cref="ProtocolConstants"/>); the limits marked "unprivileged" do not apply to uid 0,
/// to the server's own uid, or to members of <see cref="AdminGroupId"/>.
/// </summary>
public sealed class DBusServerOptions
{
    /// <summary>Well-known names this server answers for (GetNameOwner/NameHasOwner/ListNames).</summary>
    public IReadOnlyCollection<string> Names { get; init; } = Array.Empty<string>();

    /// <summary>Peers whose primary or supplementary group is this gid are privileged, like root.</summary>
    public uint? AdminGroupId { get; init; }

    /// <summary>Connections open at once, all peers together.</summary>
    public int MaxConnections { get; init; } = ProtocolConstants.DefaultMaxConnections;

    /// <summary>Of <see cref="MaxConnections"/>, how many unprivileged peers can never use.</summary>
    public int ReservedPrivilegedConnections { get; init; } = ProtocolConstants.DefaultReservedPrivilegedConnections;

    /// <summary>Unprivileged: connections one uid may hold (counted from accept, before SASL).</summary>
    public int MaxConnectionsPerUser { get; init; } = ProtocolConstants.DefaultMaxConnectionsPerUser;

    /// <summary>The largest message a privileged peer may send, and the largest we send.</summary>
    public int MaxMessageSize { get; init; } = ProtocolConstants.DefaultMaxMessageSize;

    /// <summary>Unprivileged: the largest message such a peer may send.</summary>
    public int MaxUnprivilegedMessageSize { get; init; } = ProtocolConstants.DefaultMaxUnprivilegedMessageSize;

    /// <summary>Unprivileged: bytes of incoming messages in flight per uid, over all its connections.</summary>
    public long MaxIncomingBytesPerUser { get; init; } = ProtocolConstants.DefaultMaxIncomingBytesPerUser;

    /// <summary>Bytes queued for one peer that is not reading (every peer).</summary>
    public long MaxOutgoingQueueBytes { get; init; } = ProtocolConstants.DefaultMaxOutgoingQueueBytes;

    /// <summary>Unprivileged: bytes queued for one uid's peers together.</summary>
    public long MaxOutgoingBytesPerUser { get; init; } = ProtocolConstants.DefaultMaxOutgoingBytesPerUser;

    /// <summary>A peer that has not finished SASL by then is dropped (every peer).</summary>
    public TimeSpan AuthTimeout { get; init; } = ProtocolConstants.AuthTimeout;

    /// <summary>Unprivileged: a peer that sends no complete message for this long, with no call of its running, is dropped.</summary>
    public TimeSpan IdleTimeout { get; init; } = ProtocolConstants.DefaultIdleTimeout;

    /// <summary>Decides at accept time (from SO_PEERCRED, before SASL) whether a peer may connect at all.</summary>
    public Func<PeerCredentials, bool>? AcceptFilter { get; init; }

    /// <summary>Tests: decides privilege instead of uid/gid, so the limits can be tried without a second uid.</summary>
    internal Func<PeerCredentials, bool>? PrivilegeOverride { get; init; }
}

/// <summary>A peer of the server, as reported by its events.</summary>
public sealed class DBusServerClient
{
    internal DBusServerClient(long id, PeerCredentials credentials, bool isPrivileged)
    {
        Id = id;
        Credentials = credentials;
        IsPrivileged = isPrivileged;
    }

    /// <summary>Accept order, for log lines.</summary>
    public long Id { get; }

    public PeerCredentials Credentials { get; }

    /// <summary>uid 0, the server's own uid, or the admin group: exempt from the per-user limits.</summary>
    public bool IsPrivileged { get; }

    /// <summary>Null until SASL succeeded.</summary>
    public DBusConnection? Connection { get; internal set; }

    public override string ToString() => $"client {Id} ({Credentials})";
}

/// <summary>What one uid holds on a server: connections, and bytes in flight each way (and their peaks).</summary>
public sealed record DBusUserUsage(uint UserId, int Connections, long IncomingBytes, long OutgoingBytes, long PeakIncomingBytes, long PeakOutgoingBytes);
