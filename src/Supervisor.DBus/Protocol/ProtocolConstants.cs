namespace Supervisor.DBus;

/// <summary>
/// Every count or size that arrives from a peer has its limit here, in one place.
/// Spec values come from dbus/dbus-protocol.h (DBUS_MAXIMUM_*); our own, lower limits
/// say why they are lower.
/// </summary>
public static class ProtocolConstants
{
    /// <summary>Spec: the largest message (header + padding + body), 2^27 bytes.</summary>
    public const int SpecMaxMessageSize = 128 * 1024 * 1024;

    /// <summary>
    /// Our default message limit, well below the spec's 128 MiB. The reader materialises
    /// values as objects, and a message of tiny array elements can expand about tenfold in
    /// memory, so a server that faces untrusted peer-to-peer clients keeps this small. A
    /// ListUnits reply for 10 000 units is about 2.5 MiB, so 8 MiB leaves headroom.
    /// </summary>
    public const int DefaultMaxMessageSize = 8 * 1024 * 1024;

    /// <summary>
    /// A received body whose values would take more than this many times its size in memory
    /// (plus <see cref="DecodeAllowance"/>) is refused before anything is decoded. Real messages
    /// take 2 to 5 times (strings are UTF-16, values boxed); only contrived shapes go beyond,
    /// such as arrays of 32 nested one-byte structs, which cost no bytes per level on the wire.
    /// </summary>
    public const int MaxDecodeFactor = 16;

    /// <summary>What any body may cost regardless of its size (fixed overhead of small messages).</summary>
    public const int DecodeAllowance = 1024;

    /// <summary>Spec: the largest array, 2^26 bytes (excluding the padding before the first element).</summary>
    public const int MaxArrayLength = 64 * 1024 * 1024;

    /// <summary>Spec: a signature holds at most 255 bytes.</summary>
    public const int MaxSignatureLength = 255;

    /// <summary>Spec: at most 32 nested arrays in one signature.</summary>
    public const int MaxArrayDepth = 32;

    /// <summary>Spec: at most 32 nested structs (and dict entries) in one signature.</summary>
    public const int MaxStructDepth = 32;

    /// <summary>Spec: total container depth including variants inside variants (guards the stack).</summary>
    public const int MaxTotalDepth = 64;

    /// <summary>Spec: bus, interface, member and error names hold at most 255 bytes.</summary>
    public const int MaxNameLength = 255;

    /// <summary>dbus-daemon's default (DBUS_DEFAULT_MESSAGE_UNIX_FDS): fds carried by one message.</summary>
    public const int MaxUnixFdsPerMessage = 16;

    /// <summary>Fds received but not yet claimed by a complete message; beyond this the peer is cut off.</summary>
    public const int MaxQueuedUnixFds = 64;

    /// <summary>Longest SASL line we accept; real AUTH lines are well under 100 bytes.</summary>
    public const int MaxAuthLineLength = 4096;

    /// <summary>SASL commands a client may send before it must BEGIN.</summary>
    public const int MaxAuthCommands = 32;

    /// <summary>dbus-daemon's auth_timeout: a client that has not finished SASL by then is dropped.</summary>
    public static readonly TimeSpan AuthTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Default bytes queued for one peer that is not reading. A client that stops reading
    /// is disconnected when its queue would exceed this, so it cannot make the server hold
    /// unbounded memory or stall broadcasts to other peers.
    /// </summary>
    public const long DefaultMaxOutgoingQueueBytes = 32L * 1024 * 1024;

    /// <summary>Connections one server accepts at once (systemd's CONNECTIONS_MAX is 4096).</summary>
    public const int DefaultMaxConnections = 1024;

    /// <summary>
    /// Of <see cref="DefaultMaxConnections"/>, how many only privileged peers (uid 0, the
    /// server's own uid, the admin group) may use, so unprivileged users together can never
    /// lock root out of the control socket.
    /// </summary>
    public const int DefaultReservedPrivilegedConnections = 64;

    /// <summary>Connections one unprivileged uid may hold, authenticated or not (dbus-daemon's max_connections_per_user).</summary>
    public const int DefaultMaxConnectionsPerUser = 256;

    /// <summary>
    /// An unprivileged peer that sends no complete message for this long, while none of its
    /// calls is running, is disconnected; a client that wants to sit and listen for signals
    /// sends Peer.Ping more often than this. (dbus-daemon has no such timeout; it stops dead
    /// connections that would otherwise hold a per-user slot forever.)
    /// </summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The largest message an unprivileged peer may send to a server. Calls carry names and
    /// short arguments (the supervisor's largest in-signature is "ssv"), so 1 MiB is generous,
    /// and it bounds what one message costs before its signature is even looked at.
    /// </summary>
    public const int DefaultMaxUnprivilegedMessageSize = 1024 * 1024;

    /// <summary>
    /// Bytes of incoming messages one unprivileged uid may have in flight on a server (being
    /// received, or received and not yet handled), over all its connections; dbus-daemon's
    /// max_incoming_bytes, but per user instead of per connection. The connection whose message
    /// would go over it is closed.
    /// </summary>
    public const long DefaultMaxIncomingBytesPerUser = 32L * 1024 * 1024;

    /// <summary>
    /// Bytes queued for one unprivileged uid's peers, over all its connections (replies and
    /// signals they have not read yet). The connection whose message would go over it is closed.
    /// </summary>
    public const long DefaultMaxOutgoingBytesPerUser = 32L * 1024 * 1024;

    /// <summary>Match rules one peer may register with our server (dbus-daemon: max_match_rules_per_connection).</summary>
    public const int MaxMatchRulesPerConnection = 512;

    /// <summary>Spec: DBUS_MAXIMUM_MATCH_RULE_LENGTH.</summary>
    public const int MaxMatchRuleLength = 1024;

    /// <summary>Method calls one client may have in flight on a server connection at once.</summary>
    public const int MaxConcurrentCallsPerConnection = 64;

    /// <summary>libdbus and sd-bus default: a client call without a reply fails after 25 s.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(25);

    /// <summary>The fixed part of every message header: 12 bytes plus the fields-array length.</summary>
    internal const int FixedHeaderLength = 16;

    /// <summary>Protocol major version 1; anything else means disconnect.</summary>
    internal const byte MajorProtocolVersion = 1;
}
