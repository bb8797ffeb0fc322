using Supervisor.Linux.Native;

namespace Supervisor.DBus;

/// <summary>
/// A server's per-uid accounting: which peers may connect (a reserve for privileged peers,
/// a limit per unprivileged uid), and the bytes each uid's peers hold in flight each way.
/// The limits apply to unprivileged peers; privileged ones are counted but never refused
/// beyond the server's total.
/// </summary>
internal sealed class PeerQuotas
{
    private readonly DBusServerOptions _options;
    private readonly uint _serverUid = Libc.GetEuid();
    private readonly object _lock = new();
    private readonly Dictionary<uint, UserBudget> _users = new();
    private int _total;
    private int _unprivileged;

    public PeerQuotas(DBusServerOptions options)
    {
        _options = options;
    }

    public int Count
    {
        get
        {
            lock (_lock) return _total;
        }
    }

    /// <summary>uid 0, the server's own uid, or a member of the admin group.</summary>
    public bool IsPrivileged(PeerCredentials peer) =>
        _options.PrivilegeOverride?.Invoke(peer)
        ?? (peer.UserId == 0 || peer.UserId == _serverUid || (_options.AdminGroupId is { } gid && peer.IsInGroup(gid)));

    /// <summary>Counts a newly accepted peer in, or returns null and says why it is refused.</summary>
    public PeerBudget? TryAdmit(PeerCredentials peer, bool privileged, out string? refusal)
    {
        lock (_lock)
        {
            var user = User(peer.UserId);
            refusal = Refusal(peer.UserId, privileged, user);
            if (refusal != null) return null;
            _total++;
            if (!privileged) _unprivileged++;
            user.Connections++;
            return new PeerBudget(user, privileged,
                privileged ? long.MaxValue : _options.MaxIncomingBytesPerUser,
                privileged ? long.MaxValue : _options.MaxOutgoingBytesPerUser);
        }
    }

    private string? Refusal(uint uid, bool privileged, UserBudget user)
    {
        if (_total >= _options.MaxConnections)
            return $"refused: {_options.MaxConnections} connections already open";
        if (privileged) return null;
        int pool = _options.MaxConnections - _options.ReservedPrivilegedConnections;
        if (_unprivileged >= pool)
            return $"refused: the {pool} connections open to unprivileged users are in use (the other {_options.ReservedPrivilegedConnections} are kept for root and the admin group)";
        if (user.Connections >= _options.MaxConnectionsPerUser)
            return $"refused: uid {uid} already has {user.Connections} connections open, the limit per user";
        return null;
    }

    /// <summary>The peer left: its connection slot and whatever it still held are given back.</summary>
    public void Leave(PeerBudget budget)
    {
        budget.ReleaseAll();
        lock (_lock)
        {
            _total--;
            if (!budget.IsPrivileged) _unprivileged--;
            budget.User.Connections--;
        }
    }

    public DBusUserUsage? Usage(uint uid)
    {
        lock (_lock)
        {
            if (!_users.TryGetValue(uid, out var user)) return null;
            lock (user)
                return new DBusUserUsage(uid, user.Connections, user.Incoming, user.Outgoing, user.PeakIncoming, user.PeakOutgoing);
        }
    }

    /// <summary>Kept for the server's lifetime (there are only as many as the system has users), so peaks survive reconnects.</summary>
    private UserBudget User(uint uid)
    {
        if (!_users.TryGetValue(uid, out var user)) _users[uid] = user = new UserBudget(uid);
        return user;
    }
}

/// <summary>One uid's totals on a server; its <see cref="PeerBudget"/>s lock it to change them.</summary>
internal sealed class UserBudget
{
    public UserBudget(uint uid)
    {
        UserId = uid;
    }

    public uint UserId { get; }
    public int Connections;
    public long Incoming;
    public long Outgoing;
    public long PeakIncoming;
    public long PeakOutgoing;
}

/// <summary>
/// One connection's share of its uid's budget. It remembers what it charged, so closing the
/// connection gives back everything at once, whatever was in flight.
/// </summary>
internal sealed class PeerBudget
{
    private readonly long _maxIncoming;
    private readonly long _maxOutgoing;
    private long _incoming;
    private long _outgoing;
    private bool _released;

    public PeerBudget(UserBudget user, bool privileged, long maxIncoming, long maxOutgoing)
    {
        User = user;
        IsPrivileged = privileged;
        _maxIncoming = maxIncoming;
        _maxOutgoing = maxOutgoing;
    }

    public UserBudget User { get; }

    public bool IsPrivileged { get; }

    /// <summary>Charges a message whose header just arrived; throws (and the connection closes) when the uid would go over.</summary>
    public void ReserveIncoming(int bytes)
    {
        lock (User)
        {
            if (_released) return;
            if (User.Incoming + bytes > _maxIncoming)
                throw new DBusProtocolException($"uid {User.UserId} would have {User.Incoming + bytes} bytes of incoming messages in flight, over the limit of {_maxIncoming} per user");
            User.Incoming += bytes;
            User.PeakIncoming = Math.Max(User.PeakIncoming, User.Incoming);
            _incoming += bytes;
        }
    }

    public void ReleaseIncoming(int bytes)
    {
        lock (User)
        {
            if (_released) return;
            User.Incoming -= bytes;
            _incoming -= bytes;
        }
    }

    /// <summary>Charges bytes queued for the peer; false (nothing charged) when the uid would go over.</summary>
    public bool TryReserveOutgoing(int bytes)
    {
        lock (User)
        {
            if (_released) return true;
            if (User.Outgoing + bytes > _maxOutgoing) return false;
            User.Outgoing += bytes;
            User.PeakOutgoing = Math.Max(User.PeakOutgoing, User.Outgoing);
            _outgoing += bytes;
            return true;
        }
    }

    public void ReleaseOutgoing(int bytes)
    {
        lock (User)
        {
            if (_released) return;
            User.Outgoing -= bytes;
            _outgoing -= bytes;
        }
    }

    public long MaxOutgoing => _maxOutgoing;

    /// <summary>Gives back all this connection still holds; later releases are ignored.</summary>
    public void ReleaseAll()
    {
        lock (User)
        {
            if (_released) return;
            _released = true;
            User.Incoming -= _incoming;
            User.Outgoing -= _outgoing;
            _incoming = _outgoing = 0;
        }
    }
}
