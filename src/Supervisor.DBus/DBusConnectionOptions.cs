namespace Supervisor.DBus;

/// <summary>Settings of one connection; every default is a named limit in <see cref="ProtocolConstants"/>.</summary>
public sealed class DBusConnectionOptions
{
    /// <summary>Call org.freedesktop.DBus.Hello after authenticating (true for a bus, false for a peer-to-peer server).</summary>
    public bool SayHello { get; init; } = true;

    /// <summary>Ask for unix fd passing during SASL.</summary>
    public bool NegotiateUnixFds { get; init; } = true;

    /// <summary>Objects to serve on this connection (method calls from peers are dispatched to them).</summary>
    public DBusObjectRegistry? Objects { get; init; }

    public int MaxMessageSize { get; init; } = ProtocolConstants.DefaultMaxMessageSize;

    public long MaxOutgoingQueueBytes { get; init; } = ProtocolConstants.DefaultMaxOutgoingQueueBytes;

    public TimeSpan CallTimeout { get; init; } = ProtocolConstants.DefaultCallTimeout;

    /// <summary>Receives exceptions thrown by signal handlers (the library does not log).</summary>
    public Action<Exception>? HandlerError { get; init; }
}

/// <summary>RequestName flags (spec #bus-messages-request-name).</summary>
[Flags]
public enum RequestNameFlags : uint
{
    None = 0,
    AllowReplacement = 0x1,
    ReplaceExisting = 0x2,
    DoNotQueue = 0x4,
}

public enum RequestNameReply : uint
{
    PrimaryOwner = 1,
    InQueue = 2,
    Exists = 3,
    AlreadyOwner = 4,
}
