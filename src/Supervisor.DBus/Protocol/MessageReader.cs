using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Supervisor.DBus;

/// <summary>
/// Unmarshals values from untrusted bytes, in either byte order. Every read is bounds
/// checked, padding must be zero, and every violation is a <see cref="DBusProtocolException"/>,
/// the only exception this type throws for any input. Alignment is relative to the start of
/// the buffer, which must be an 8-aligned position of the message (its start or the body).
/// </summary>
/// <remarks>The basic values and padding are here; values by signature in MessageReader.Values.cs.</remarks>
public sealed partial class MessageReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly bool _bigEndian;
    private readonly IReadOnlyList<UnixFd> _fds;
    private int _position;

    public MessageReader(ReadOnlyMemory<byte> data, bool bigEndian, IReadOnlyList<UnixFd>? unixFds = null)
    {
        _data = data;
        _bigEndian = bigEndian;
        _fds = unixFds ?? Array.Empty<UnixFd>();
    }

    public int Position
    {
        get => _position;
        internal set => _position = value;
    }

    public int Remaining => _data.Length - _position;

    public bool IsAtEnd => _position == _data.Length;

    private ReadOnlySpan<byte> Span => _data.Span;

    public byte ReadByte()
    {
        Need(1, "byte");
        return Span[_position++];
    }

    public bool ReadBoolean()
    {
        uint v = ReadUInt32();
        return v switch
        {
            0 => false,
            1 => true,
            _ => throw Error($"boolean must be 0 or 1, got {v}"),
        };
    }

    public short ReadInt16()
    {
        Align(2);
        Need(2, "int16");
        short v = _bigEndian ? BinaryPrimitives.ReadInt16BigEndian(Span.Slice(_position)) : BinaryPrimitives.ReadInt16LittleEndian(Span.Slice(_position));
        _position += 2;
        return v;
    }

    public ushort ReadUInt16() => unchecked((ushort)ReadInt16());

    public int ReadInt32()
    {
        Align(4);
        Need(4, "int32");
        int v = _bigEndian ? BinaryPrimitives.ReadInt32BigEndian(Span.Slice(_position)) : BinaryPrimitives.ReadInt32LittleEndian(Span.Slice(_position));
        _position += 4;
        return v;
    }

    public uint ReadUInt32() => unchecked((uint)ReadInt32());

    public long ReadInt64()
    {
        Align(8);
        Need(8, "int64");
        long v = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(Span.Slice(_position)) : BinaryPrimitives.ReadInt64LittleEndian(Span.Slice(_position));
        _position += 8;
        return v;
    }

    public ulong ReadUInt64() => unchecked((ulong)ReadInt64());

    public double ReadDouble() => BitConverter.Int64BitsToDouble(ReadInt64());

    public string ReadString() => Encoding.UTF8.GetString(ReadStringBytes());

    /// <summary>A string's bytes after checking them (length, NUL terminator, no inner NUL, UTF-8).</summary>
    internal ReadOnlySpan<byte> ReadStringBytes()
    {
        uint length = ReadUInt32();
        // length + the trailing NUL must fit; compare as long so a huge length cannot overflow.
        if ((long)length + 1 > Remaining) throw Error($"string of {length} bytes runs past the end ({Remaining} bytes left)");
        var bytes = Span.Slice(_position, (int)length);
        if (Span[_position + (int)length] != 0) throw Error("string is not NUL-terminated");
        if (bytes.IndexOf((byte)0) >= 0) throw Error("string contains a NUL byte");
        if (!Utf8.IsValid(bytes)) throw Error("string is not valid UTF-8");
        _position += (int)length + 1;
        return bytes;
    }

    public ObjectPath ReadObjectPath()
    {
        var bytes = ReadObjectPathBytes();
        return new ObjectPath(Encoding.ASCII.GetString(bytes));
    }

    internal ReadOnlySpan<byte> ReadObjectPathBytes()
    {
        var bytes = ReadStringBytes();
        if (!ObjectPath.IsValid(bytes)) throw Error($"invalid object path '{Printable(bytes)}'");
        return bytes;
    }

    public Signature ReadSignature()
    {
        var bytes = ReadSignatureBytes(out _);
        return Signature.FromValidated(Encoding.ASCII.GetString(bytes));
    }

    /// <summary>A signature's bytes after checking them; <paramref name="single"/> says whether it is one complete type.</summary>
    internal ReadOnlySpan<byte> ReadSignatureBytes(out bool single)
    {
        int length = ReadByte();
        if (length + 1 > Remaining) throw Error($"signature of {length} bytes runs past the end");
        var bytes = Span.Slice(_position, length);
        if (Span[_position + length] != 0) throw Error("signature is not NUL-terminated");
        _position += length + 1;
        Span<char> chars = stackalloc char[length];
        for (int i = 0; i < length; i++) chars[i] = (char)bytes[i];
        string? error = Signature.Validate(chars, requireSingleType: false);
        if (error != null) throw Error($"invalid signature '{Printable(bytes)}': {error}");
        single = length > 0 && Signature.NextTypeEnd(chars, 0) == length;
        return bytes;
    }

    public UnixFd ReadUnixFd()
    {
        uint index = ReadUInt32();
        if (index >= _fds.Count) throw Error($"unix fd index {index} but the message carries {_fds.Count} fds");
        return _fds[(int)index];
    }

    /// <summary>Skips the padding to <paramref name="alignment"/>, which must be all NUL.</summary>
    public void Align(int alignment)
    {
        int padded = (_position + alignment - 1) & ~(alignment - 1);
        if (padded > _data.Length) throw Error($"padding runs past the end at offset {_position}");
        for (int i = _position; i < padded; i++)
        {
            if (Span[i] != 0) throw Error($"non-zero padding byte at offset {i}");
        }
        _position = padded;
    }

    internal static void EnterContainer(int depth)
    {
        // Variants can nest types at run time beyond what any one signature shows; bounding
        // the total depth bounds our recursion on hostile input.
        if (depth + 1 > ProtocolConstants.MaxTotalDepth) throw Error($"values nested deeper than {ProtocolConstants.MaxTotalDepth} containers");
    }

    private void Need(int count, string what)
    {
        if (count > Remaining) throw Error($"{what} at offset {_position} runs past the end ({Remaining} bytes left)");
    }

    internal static string Printable(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[Math.Min(bytes.Length, 256)];
        for (int i = 0; i < chars.Length; i++) chars[i] = bytes[i] is >= (byte)' ' and < 127 ? (char)bytes[i] : '?';
        return new string(chars);
    }

    internal static DBusProtocolException Error(string message) => new(message);
}
