namespace Supervisor.DBus;

/// <summary>
/// The peer broke the protocol: malformed bytes, a violated limit, a failed handshake.
/// The only exception the message reader throws on any input; the connection that
/// produced it is closed.
/// </summary>
public sealed class DBusProtocolException : Exception
{
    public DBusProtocolException(string message) : base(message) { }

    public DBusProtocolException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A D-Bus error reply: thrown by calls that got an ERROR message back, and thrown by
/// method handlers to send one.
/// </summary>
public sealed class DBusErrorException : Exception
{
    public DBusErrorException(string errorName, string message) : base(message)
    {
        Names.ValidateErrorName(errorName);
        ErrorName = errorName;
    }

    public string ErrorName { get; }

    public override string ToString() => $"{ErrorName}: {Message}";
}

/// <summary>The connection closed (or was closed) while an operation needed it.</summary>
public sealed class DBusConnectionClosedException : Exception
{
    public DBusConnectionClosedException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Standard error names from dbus/dbus-protocol.h.</summary>
public static class DBusErrors
{
    public const string Failed = "org.freedesktop.DBus.Error.Failed";
    public const string NoReply = "org.freedesktop.DBus.Error.NoReply";
    public const string ServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown";
    public const string NameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner";
    public const string NotSupported = "org.freedesktop.DBus.Error.NotSupported";
    public const string LimitsExceeded = "org.freedesktop.DBus.Error.LimitsExceeded";
    public const string AccessDenied = "org.freedesktop.DBus.Error.AccessDenied";
    public const string InvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
    public const string UnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod";
    public const string UnknownObject = "org.freedesktop.DBus.Error.UnknownObject";
    public const string UnknownInterface = "org.freedesktop.DBus.Error.UnknownInterface";
    public const string UnknownProperty = "org.freedesktop.DBus.Error.UnknownProperty";
    public const string PropertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly";
    public const string MatchRuleInvalid = "org.freedesktop.DBus.Error.MatchRuleInvalid";
    public const string Disconnected = "org.freedesktop.DBus.Error.Disconnected";
    public const string Timeout = "org.freedesktop.DBus.Error.Timeout";
}
