using System.Buffers.Binary;

namespace Supervisor.DBus;

/// <summary>Reading a message from bytes: the size check on the first 16 bytes, then the header fields and the body check.</summary>
public sealed partial class Message
{
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
}
