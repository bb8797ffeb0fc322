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
public sealed class MessageReader
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

    public string ReadString()
    {
        uint length = ReadUInt32();
        // length + the trailing NUL must fit; compare as long so a huge length cannot overflow.
        if ((long)length + 1 > Remaining) throw Error($"string of {length} bytes runs past the end ({Remaining} bytes left)");
        var bytes = Span.Slice(_position, (int)length);
        if (Span[_position + (int)length] != 0) throw Error("string is not NUL-terminated");
        if (bytes.IndexOf((byte)0) >= 0) throw Error("string contains a NUL byte");
        if (!Utf8.IsValid(bytes)) throw Error("string is not valid UTF-8");
        _position += (int)length + 1;
        return Encoding.UTF8.GetString(bytes);
    }

    public ObjectPath ReadObjectPath()
    {
        string s = ReadString();
        if (!ObjectPath.IsValid(s)) throw Error($"invalid object path '{s}'");
        return new ObjectPath(s);
    }

    public Signature ReadSignature()
    {
        int length = ReadByte();
        if (length + 1 > Remaining) throw Error($"signature of {length} bytes runs past the end");
        var bytes = Span.Slice(_position, length);
        if (Span[_position + length] != 0) throw Error("signature is not NUL-terminated");
        var chars = new char[length];
        for (int i = 0; i < length; i++) chars[i] = (char)bytes[i];
        _position += length + 1;
        string s = new(chars);
        string? error = Signature.Validate(s, requireSingleType: false);
        if (error != null) throw Error($"invalid signature '{Printable(s)}': {error}");
        return Signature.FromValidated(s);
    }

    public UnixFd ReadUnixFd()
    {
        uint index = ReadUInt32();
        if (index >= _fds.Count) throw Error($"unix fd index {index} but the message carries {_fds.Count} fds");
        return _fds[(int)index];
    }

    public Variant ReadVariant() => ReadVariantAt(0);

    /// <summary>Reads one value per single complete type of <paramref name="signature"/>.</summary>
    public object[] ReadValues(Signature signature)
    {
        var types = signature.Types;
        var values = new object[types.Count];
        for (int i = 0; i < values.Length; i++) values[i] = ReadValue(types[i].Value, 0);
        return values;
    }

    /// <summary>
    /// Reads a value of the single complete type <paramref name="type"/>. A malformed
    /// <paramref name="type"/> is the caller's error (ArgumentException); malformed bytes are
    /// the peer's (DBusProtocolException).
    /// </summary>
    public object ReadValue(string type)
    {
        string? error = Signature.Validate(type, requireSingleType: true);
        if (error != null) throw new ArgumentException($"invalid D-Bus type '{type}': {error}", nameof(type));
        return ReadValue(type, 0);
    }

    /// <summary>
    /// Reads a value of the single complete type <paramref name="type"/> (already validated).
    /// Arrays of fixed-size basic types come back as typed .NET arrays (byte[], int[], …) so a
    /// large array does not become millions of boxed objects; other arrays are object[], dicts
    /// are KeyValuePair&lt;object, object&gt;[], structs are <see cref="DBusStruct"/>.
    /// </summary>
    internal object ReadValue(string type, int depth) => type[0] switch
    {
        'y' => ReadByte(),
        'b' => ReadBoolean(),
        'n' => ReadInt16(),
        'q' => ReadUInt16(),
        'i' => ReadInt32(),
        'u' => ReadUInt32(),
        'x' => ReadInt64(),
        't' => ReadUInt64(),
        'd' => ReadDouble(),
        's' => ReadString(),
        'o' => ReadObjectPath(),
        'g' => ReadSignature(),
        'h' => ReadUnixFd(),
        'v' => ReadVariantAt(depth),
        'a' => ReadArray(type, depth),
        '(' => ReadStruct(type, depth),
        _ => throw Error($"unexpected type code '{type[0]}'"),
    };

    private Variant ReadVariantAt(int depth)
    {
        EnterContainer(depth);
        Signature signature = ReadSignature();
        if (!signature.IsSingleCompleteType) throw Error($"variant signature '{signature}' is not one complete type");
        return new Variant(signature, ReadValue(signature.Value, depth + 1));
    }

    private object ReadArray(string type, int depth)
    {
        EnterContainer(depth);
        uint length = ReadUInt32();
        if (length > ProtocolConstants.MaxArrayLength) throw Error($"array of {length} bytes exceeds the limit of {ProtocolConstants.MaxArrayLength}");
        string elementType = type.Substring(1);
        char code = elementType[0];
        Align(Signature.AlignmentOf(code));
        if (length > Remaining) throw Error($"array of {length} bytes runs past the end ({Remaining} bytes left)");
        int end = _position + (int)length;

        int fixedSize = code switch { 'y' => 1, 'n' or 'q' => 2, 'b' or 'i' or 'u' => 4, 'x' or 't' or 'd' => 8, _ => 0 };
        if (fixedSize != 0)
        {
            if (length % fixedSize != 0) throw Error($"array of '{code}' has length {length}, not a multiple of {fixedSize}");
            int count = (int)length / fixedSize;
            object result = code switch
            {
                'y' => Span.Slice(_position, count).ToArray(),
                'b' => ReadMany(count, ReadBoolean),
                'n' => ReadMany(count, ReadInt16),
                'q' => ReadMany(count, ReadUInt16),
                'i' => ReadMany(count, ReadInt32),
                'u' => ReadMany(count, ReadUInt32),
                'x' => ReadMany(count, ReadInt64),
                't' => ReadMany(count, ReadUInt64),
                _ => ReadMany(count, ReadDouble),
            };
            if (code == 'y') _position += count;
            return result;
        }

        if (code == '{')
        {
            string keyType = elementType.Substring(1, 1);
            string valueType = elementType.Substring(2, elementType.Length - 3);
            var entries = new List<KeyValuePair<object, object>>();
            while (_position < end)
            {
                EnterContainer(depth + 1);
                Align(8);
                object key = ReadValue(keyType, depth + 2);
                object value = ReadValue(valueType, depth + 2);
                entries.Add(new KeyValuePair<object, object>(key, value));
            }
            if (_position != end) throw Error($"array contents overrun its length of {length} bytes");
            return entries.ToArray();
        }

        var items = new List<object>();
        while (_position < end) items.Add(ReadValue(elementType, depth + 1));
        if (_position != end) throw Error($"array contents overrun its length of {length} bytes");
        return items.ToArray();
    }

    private T[] ReadMany<T>(int count, Func<T> read)
    {
        var result = new T[count];
        for (int i = 0; i < count; i++) result[i] = read();
        return result;
    }

    private DBusStruct ReadStruct(string type, int depth)
    {
        EnterContainer(depth);
        Align(8);
        string inner = type.Substring(1, type.Length - 2);
        var fields = new List<object>();
        int pos = 0;
        while (pos < inner.Length)
        {
            int next = Signature.NextTypeEnd(inner, pos);
            fields.Add(ReadValue(inner.Substring(pos, next - pos), depth + 1));
            pos = next;
        }
        return new DBusStruct(fields.ToArray());
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

    private static void EnterContainer(int depth)
    {
        // Variants can nest types at run time beyond what any one signature shows; bounding
        // the total depth bounds our recursion on hostile input.
        if (depth + 1 > ProtocolConstants.MaxTotalDepth) throw Error($"values nested deeper than {ProtocolConstants.MaxTotalDepth} containers");
    }

    private void Need(int count, string what)
    {
        if (count > Remaining) throw Error($"{what} at offset {_position} runs past the end ({Remaining} bytes left)");
    }

    private static string Printable(string s) =>
        new(s.Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());

    private static DBusProtocolException Error(string message) => new(message);
}
