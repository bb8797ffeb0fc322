using System.Runtime.InteropServices;

namespace Supervisor.DBus;

public enum MessageType : byte
{
    Invalid = 0,
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

[Flags]
public enum MessageFlags : byte
{
    None = 0,
    NoReplyExpected = 0x1,
    NoAutoStart = 0x2,
    AllowInteractiveAuthorization = 0x4,
}

/// <summary>
/// One D-Bus message: header fields and a body of values (see <see cref="MessageReader.ReadValue"/>
/// for how wire types map to .NET values). Disposing it closes the unix fds nobody took.
/// </summary>
public sealed partial class Message : IDisposable
{
    private const byte FieldPath = 1;
    private const byte FieldInterface = 2;
    private const byte FieldMember = 3;
    private const byte FieldErrorName = 4;
    private const byte FieldReplySerial = 5;
    private const byte FieldDestination = 6;
    private const byte FieldSender = 7;
    private const byte FieldSignature = 8;
    private const byte FieldUnixFds = 9;

    /// <summary>Reserved by the spec; dbus-daemon disconnects peers that send from them.</summary>
    private const string LocalPath = "/org/freedesktop/DBus/Local";
    private const string LocalInterface = "org.freedesktop.DBus.Local";

    private IReadOnlyList<object>? _body;
    private ReadOnlyMemory<byte> _bodyBytes;
    private bool _received;

    public MessageType Type { get; init; }
    public MessageFlags Flags { get; init; }
    /// <summary>The serial read from the wire (0 for messages built locally; the connection numbers them when sending).</summary>
    public uint Serial { get; init; }
    public ObjectPath? Path { get; init; }
    public string? Interface { get; init; }
    public string? Member { get; init; }
    public string? ErrorName { get; init; }
    public uint? ReplySerial { get; init; }
    public string? Destination { get; init; }
    public string? Sender { get; init; }
    public Signature Signature { get; init; } = Signature.Empty;

    /// <summary>
    /// The body's values. A received message keeps its (already validated) body bytes and
    /// materialises them on first use, so a call that is refused from its header (unknown
    /// method, wrong signature) never costs more memory than its bytes.
    /// </summary>
    public IReadOnlyList<object> Body
    {
        get => Volatile.Read(ref _body) ?? DecodeBody();
        init => _body = value;
    }

    /// <summary>Fds received with this message (index = the 'h' value on the wire).</summary>
    public IReadOnlyList<UnixFd> UnixFds { get; init; } = Array.Empty<UnixFd>();
    /// <summary>The byte order the message arrived in (messages we build are sent little-endian).</summary>
    public bool IsBigEndian { get; init; }

    /// <summary>Bytes this message took on the wire (0 for messages built locally).</summary>
    internal int WireLength { get; private init; }

    /// <summary>At most the bytes decoding the body allocates (received messages; checked against <see cref="ProtocolConstants.MaxDecodeFactor"/>).</summary>
    internal long DecodeCost { get; private init; }

    /// <summary>False while a received message's body is still only bytes.</summary>
    internal bool IsBodyDecoded => !_received || Volatile.Read(ref _body) != null;

    /// <summary>
    /// A reader over the body bytes of a received message, for callers that check one argument
    /// before deciding to decode the next (null for a message built locally: use <see cref="Body"/>).
    /// </summary>
    internal MessageReader? OpenBody() => _received && Volatile.Read(ref _body) == null ? new MessageReader(_bodyBytes, IsBigEndian, UnixFds) : null;

    private IReadOnlyList<object> DecodeBody()
    {
        if (!_received) return Array.Empty<object>();
        // Validated when the message arrived, so decoding cannot fail; two threads racing here
        // decode twice and agree on the first result.
        IReadOnlyList<object> body = new MessageReader(_bodyBytes, IsBigEndian, UnixFds).ReadValues(Signature);
        return Interlocked.CompareExchange(ref _body, body, null) ?? body;
    }

    public bool NoReplyExpected => (Flags & MessageFlags.NoReplyExpected) != 0;

    /// <summary>The first body argument of an error, when it is a string.</summary>
    public string? ErrorMessage => Type == MessageType.Error && Body.Count > 0 && Body[0] is string s ? s : null;

    public static Message MethodCall(string? destination, ObjectPath path, string? @interface, string member, string signature = "", params object[] args)
    {
        if (destination != null) Names.ValidateBusName(destination);
        if (@interface != null) Names.ValidateInterfaceName(@interface);
        Names.ValidateMemberName(member);
        return new Message
        {
            Type = MessageType.MethodCall,
            Destination = destination,
            Path = path,
            Interface = @interface,
            Member = member,
            Signature = new Signature(signature),
            Body = args,
        };
    }

    public static Message Signal(ObjectPath path, string @interface, string member, string signature = "", params object[] args)
    {
        Names.ValidateInterfaceName(@interface);
        Names.ValidateMemberName(member);
        return new Message
        {
            Type = MessageType.Signal,
            Path = path,
            Interface = @interface,
            Member = member,
            Signature = new Signature(signature),
            Body = args,
        };
    }

    public static Message MethodReturn(Message call, string signature = "", params object[] args) => new()
    {
        Type = MessageType.MethodReturn,
        Flags = MessageFlags.NoReplyExpected,
        ReplySerial = call.Serial,
        Destination = call.Sender,
        Signature = new Signature(signature),
        Body = args,
    };

    public static Message Error(Message call, string errorName, string message)
    {
        Names.ValidateErrorName(errorName);
        return new Message
        {
            Type = MessageType.Error,
            Flags = MessageFlags.NoReplyExpected,
            ReplySerial = call.Serial,
            Destination = call.Sender,
            ErrorName = errorName,
            Signature = Signature.FromValidated("s"),
            Body = new object[] { message },
        };
    }

    /// <summary>
    /// Marshals the message with <paramref name="serial"/> into bytes and the handles its 'h'
    /// values refer to. The message itself is not changed, so one signal can go to many peers.
    /// Throws ArgumentException when the values do not match the signature.
    /// </summary>
    public byte[] Serialize(uint serial, out IReadOnlyList<SafeHandle> unixFds, bool bigEndian = false) =>
        Serialize(serial, out unixFds, bigEndian, Sender);

    /// <summary>As above, with SENDER set to <paramref name="sender"/> (a server stamps its own name on what it sends).</summary>
    internal byte[] Serialize(uint serial, out IReadOnlyList<SafeHandle> unixFds, bool bigEndian, string? sender)
    {
        if (serial == 0) throw new ArgumentOutOfRangeException(nameof(serial), "a message serial must not be 0");
        var body = new MessageWriter(bigEndian);
        body.WriteValues(Signature, Body);
        unixFds = body.UnixFds;

        var w = new MessageWriter(bigEndian);
        w.WriteByte(bigEndian ? (byte)'B' : (byte)'l');
        w.WriteByte((byte)Type);
        w.WriteByte((byte)Flags);
        w.WriteByte(ProtocolConstants.MajorProtocolVersion);
        w.WriteUInt32((uint)body.Length);
        w.WriteUInt32(serial);
        w.WriteUInt32(0); // header fields array length, patched below
        int fieldsStart = w.Length; // 16: already 8-aligned, the padding before the first struct is empty
        if (Path is { } path) WriteField(w, FieldPath, "o", path);
        if (Interface != null) WriteField(w, FieldInterface, "s", Interface);
        if (Member != null) WriteField(w, FieldMember, "s", Member);
        if (ErrorName != null) WriteField(w, FieldErrorName, "s", ErrorName);
        if (ReplySerial is { } rs) WriteField(w, FieldReplySerial, "u", rs);
        if (Destination != null) WriteField(w, FieldDestination, "s", Destination);
        if (sender != null) WriteField(w, FieldSender, "s", sender);
        if (!Signature.IsEmpty) WriteField(w, FieldSignature, "g", Signature);
        if (unixFds.Count > 0) WriteField(w, FieldUnixFds, "u", (uint)unixFds.Count);
        w.PatchUInt32(12, (uint)(w.Length - fieldsStart));
        w.Align(8);
        w.WriteRaw(body.WrittenSpan);
        return w.ToArray();
    }

    private static void WriteField(MessageWriter w, byte code, string type, object value)
    {
        w.Align(8);
        w.WriteByte(code);
        w.WriteSignature(Signature.FromValidated(type));
        w.WriteValue(type, value);
    }

    private static long Align8(uint value) => ((long)value + 7) & ~7L;

    public void Dispose()
    {
        foreach (var fd in UnixFds) fd.Dispose();
    }

    public override string ToString() => Type switch
    {
        MessageType.MethodCall => $"call {Interface}.{Member} on {Path} (serial {Serial}, '{Signature}')",
        MessageType.Signal => $"signal {Interface}.{Member} on {Path} (serial {Serial}, '{Signature}')",
        MessageType.MethodReturn => $"return for serial {ReplySerial} ('{Signature}')",
        MessageType.Error => $"error {ErrorName} for serial {ReplySerial}: {ErrorMessage}",
        _ => $"message type {(byte)Type} (serial {Serial})",
    };
}
