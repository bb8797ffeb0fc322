using System.Buffers.Binary;
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
public sealed class Message : IDisposable
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

    /// <summary>
    /// From the first 16 bytes, the total length of the message they start, after checking
    /// the fixed header and the size limit (before anything is allocated for the rest).
    /// </summary>
    public static int GetMessageLength(ReadOnlySpan<byte> fixedHeader, int maxMessageSize) => GetMessageLength(fixedHeader, maxMessageSize, "");

    /// <param name="limitName">Whose limit it is, for the error ("for unprivileged peers"); may be empty.</param>
    internal static int GetMessageLength(ReadOnlySpan<byte> fixedHeader, int maxMessageSize, string limitName)
    {
        if (fixedHeader.Length < ProtocolConstants.FixedHeaderLength)
            throw new DBusProtocolException($"message header needs {ProtocolConstants.FixedHeaderLength} bytes, got {fixedHeader.Length}");
        bool bigEndian = fixedHeader[0] switch
        {
            (byte)'l' => false,
            (byte)'B' => true,
            _ => throw new DBusProtocolException($"invalid endianness byte 0x{fixedHeader[0]:x2}"),
        };
        if (fixedHeader[3] != ProtocolConstants.MajorProtocolVersion)
            throw new DBusProtocolException($"unsupported protocol version {fixedHeader[3]}, expected {ProtocolConstants.MajorProtocolVersion}");
        uint bodyLength = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(fixedHeader.Slice(4)) : BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader.Slice(4));
        uint fieldsLength = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(fixedHeader.Slice(12)) : BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader.Slice(12));
        long total = ProtocolConstants.FixedHeaderLength + Align8(fieldsLength) + (long)bodyLength;
        if (total > maxMessageSize)
            throw new DBusProtocolException($"message of {total} bytes exceeds the limit of {maxMessageSize} bytes{(limitName.Length > 0 ? " " + limitName : "")}");
        return (int)total;
    }

    /// <summary>
    /// Parses and validates one complete message. Takes ownership of the fds it declares
    /// (the first UNIX_FDS of <paramref name="availableFds"/>). Throws only DBusProtocolException.
    /// The body is checked completely but kept as bytes until <see cref="Body"/> is read.
    /// </summary>
    public static Message Parse(ReadOnlyMemory<byte> bytes, IReadOnlyList<UnixFd>? availableFds = null, int maxMessageSize = ProtocolConstants.DefaultMaxMessageSize) =>
        Parse(bytes, availableFds, maxMessageSize, ownsBytes: false);

    /// <summary>
    /// <paramref name="ownsBytes"/>: the message may keep <paramref name="bytes"/> (a buffer
    /// nobody reuses); otherwise its body is copied out.
    /// </summary>
    internal static Message Parse(ReadOnlyMemory<byte> bytes, IReadOnlyList<UnixFd>? availableFds, int maxMessageSize, bool ownsBytes)
    {
        int total = GetMessageLength(bytes.Span, maxMessageSize);
        if (total != bytes.Length)
            throw new DBusProtocolException($"message header announces {total} bytes but {bytes.Length} were given");
        var header = ReadHeader(bytes);
        CheckRequiredFields(header);
        var fds = TakeFds(header.UnixFdCount, availableFds);
        var body = bytes.Slice(header.BodyStart);
        var bodyReader = new MessageReader(body, header.BigEndian, fds);
        var signature = header.Signature ?? Signature.Empty;
        bodyReader.SkipValues(signature);
        if (!bodyReader.IsAtEnd) throw new DBusProtocolException($"body has {bodyReader.Remaining} bytes beyond its signature '{signature}'");
        if (bodyReader.DecodeCost > ProtocolConstants.MaxDecodeFactor * (long)body.Length + ProtocolConstants.DecodeAllowance)
            throw new DBusProtocolException($"body of {body.Length} bytes ('{signature}') would take {bodyReader.DecodeCost} bytes to decode, more than {ProtocolConstants.MaxDecodeFactor} times its size");
        return new Message
        {
            Type = header.Type,
            Flags = header.Flags,
            Serial = header.Serial,
            Path = header.Path,
            Interface = header.Interface,
            Member = header.Member,
            ErrorName = header.ErrorName,
            ReplySerial = header.ReplySerial,
            Destination = header.Destination,
            Sender = header.Sender,
            Signature = signature,
            UnixFds = fds,
            IsBigEndian = header.BigEndian,
            WireLength = total,
            DecodeCost = bodyReader.DecodeCost,
            _bodyBytes = ownsBytes || body.IsEmpty ? body : body.ToArray(),
            _received = true,
        };
    }

    /// <summary>The header fields of a message as read, before the checks that need all of them.</summary>
    private sealed class Header
    {
        public bool BigEndian;
        public MessageType Type;
        public MessageFlags Flags;
        public uint Serial;
        public ObjectPath? Path;
        public string? Interface, Member, ErrorName, Destination, Sender;
        public uint? ReplySerial, UnixFdCount;
        public Signature? Signature;
        public int BodyStart;
    }

    private static Header ReadHeader(ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        var header = new Header { BigEndian = span[0] == (byte)'B', Type = (MessageType)span[1], Flags = (MessageFlags)span[2] };
        var r = new MessageReader(bytes, header.BigEndian) { Position = 4 };
        uint bodyLength = r.ReadUInt32();
        header.Serial = r.ReadUInt32();
        if (header.Serial == 0) throw new DBusProtocolException("message serial is 0");
        uint fieldsLength = r.ReadUInt32();
        if (fieldsLength > ProtocolConstants.MaxArrayLength)
            throw new DBusProtocolException($"header field array of {fieldsLength} bytes exceeds the limit");
        int fieldsEnd = ProtocolConstants.FixedHeaderLength + (int)fieldsLength;
        int seen = 0;
        while (r.Position < fieldsEnd) ReadHeaderField(r, header, ref seen);
        if (r.Position != fieldsEnd) throw new DBusProtocolException("header fields overrun their array length");
        r.Align(8);
        header.BodyStart = r.Position;
        if (header.BodyStart + (long)bodyLength != bytes.Length) throw new DBusProtocolException("body length does not match the message length");
        if (header.Signature == null && bodyLength != 0) throw new DBusProtocolException($"body of {bodyLength} bytes without a SIGNATURE field");
        return header;
    }

    /// <summary>One (code, variant) entry of the header field array; <paramref name="seen"/> has a bit per known code.</summary>
    private static void ReadHeaderField(MessageReader r, Header header, ref int seen)
    {
        r.Align(8);
        byte code = r.ReadByte();
        Signature fieldType = r.ReadSignature();
        if (!fieldType.IsSingleCompleteType) throw new DBusProtocolException($"header field {code} has variant signature '{fieldType}', not one complete type");
        string? expected = code switch
        {
            FieldPath => "o",
            FieldInterface or FieldMember or FieldErrorName or FieldDestination or FieldSender => "s",
            FieldReplySerial or FieldUnixFds => "u",
            FieldSignature => "g",
            _ => null,
        };
        if (expected == null)
        {
            // Unknown field codes are accepted and ignored (spec), but must be well-formed.
            r.SkipValue(fieldType.Value, 1);
            return;
        }
        if (fieldType.Value != expected)
            throw new DBusProtocolException($"header field {code} must have type '{expected}', got '{fieldType}'");
        if ((seen & (1 << code)) != 0) throw new DBusProtocolException($"header field {code} appears twice");
        seen |= 1 << code;
        StoreHeaderField(header, code, r.ReadValue(expected, 1));
    }

    private static void StoreHeaderField(Header header, byte code, object value)
    {
        switch (code)
        {
            case FieldPath: header.Path = (ObjectPath)value; break;
            case FieldInterface: header.Interface = Checked((string)value, Names.IsValidInterfaceName, "interface name"); break;
            case FieldMember: header.Member = Checked((string)value, Names.IsValidMemberName, "member name"); break;
            case FieldErrorName: header.ErrorName = Checked((string)value, Names.IsValidErrorName, "error name"); break;
            case FieldReplySerial:
                header.ReplySerial = (uint)value;
                if (header.ReplySerial == 0) throw new DBusProtocolException("reply serial is 0");
                break;
            case FieldDestination: header.Destination = Checked((string)value, Names.IsValidBusName, "destination"); break;
            case FieldSender: header.Sender = Checked((string)value, Names.IsValidBusName, "sender"); break;
            case FieldSignature: header.Signature = (Signature)value; break;
            case FieldUnixFds: header.UnixFdCount = (uint)value; break;
        }
    }

    private static string Checked(string value, Func<string, bool> isValid, string what) =>
        isValid(value) ? value : throw new DBusProtocolException($"invalid {what} '{value}'");

    /// <summary>The fields each message type must carry, and the reserved local path and interface.</summary>
    private static void CheckRequiredFields(Header h)
    {
        switch (h.Type)
        {
            case MessageType.MethodCall:
                if (h.Path == null || h.Member == null) throw new DBusProtocolException("method call without PATH or MEMBER");
                break;
            case MessageType.Signal:
                if (h.Path == null || h.Interface == null || h.Member == null) throw new DBusProtocolException("signal without PATH, INTERFACE or MEMBER");
                break;
            case MessageType.Error:
                if (h.ErrorName == null || h.ReplySerial == null) throw new DBusProtocolException("error without ERROR_NAME or REPLY_SERIAL");
                break;
            case MessageType.MethodReturn:
                if (h.ReplySerial == null) throw new DBusProtocolException("method return without REPLY_SERIAL");
                break;
            case MessageType.Invalid:
                throw new DBusProtocolException("message type 0 (INVALID)");
        }
        if (h.Path?.Value == LocalPath || h.Interface == LocalInterface)
            throw new DBusProtocolException($"message uses the reserved '{LocalPath}' path or '{LocalInterface}' interface");
    }

    /// <summary>The fds UNIX_FDS declares, taken from those that arrived with the message.</summary>
    private static UnixFd[] TakeFds(uint? declared, IReadOnlyList<UnixFd>? availableFds)
    {
        int fdCount = (int)Math.Min(declared ?? 0, int.MaxValue);
        if (fdCount > ProtocolConstants.MaxUnixFdsPerMessage)
            throw new DBusProtocolException($"message declares {fdCount} unix fds, over the limit of {ProtocolConstants.MaxUnixFdsPerMessage}");
        int available = availableFds?.Count ?? 0;
        if (fdCount > available)
            throw new DBusProtocolException($"message declares {fdCount} unix fds but {available} arrived with it");
        return fdCount == 0 ? Array.Empty<UnixFd>() : availableFds!.Take(fdCount).ToArray();
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
