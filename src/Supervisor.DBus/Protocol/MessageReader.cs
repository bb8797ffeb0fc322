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
/// <remarks>
/// One walker serves two purposes: <see cref="SkipValues"/> checks a body completely without
/// allocating (a message is validated on arrival, before anyone knows whether its body will
/// be wanted), and <see cref="ReadValues"/> materialises it. Types are walked as spans of the
/// signature, never cut into substrings, so the work per element is bounded by the element's
/// own bytes; bytes, booleans, empty arrays and repeated variant signatures share instances.
/// </remarks>
public sealed class MessageReader
{
    private static readonly object[] BoxedBytes = Enumerable.Range(0, 256).Select(i => (object)(byte)i).ToArray();
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly bool _bigEndian;
    private readonly IReadOnlyList<UnixFd> _fds;
    private int _position;
    private Signature _lastVariantSignature = Signature.Empty;

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
    private ReadOnlySpan<byte> ReadStringBytes()
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

    private ReadOnlySpan<byte> ReadObjectPathBytes()
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
    private ReadOnlySpan<byte> ReadSignatureBytes(out bool single)
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

    public Variant ReadVariant() => (Variant)WalkVariant(0, materialize: true)!;

    /// <summary>Reads one value per single complete type of <paramref name="signature"/>.</summary>
    public object[] ReadValues(Signature signature)
    {
        string types = signature.Value;
        var values = new object[Signature.CountTypes(types)];
        int pos = 0;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Walk(types.AsSpan(pos), 0, materialize: true)!;
            pos = Signature.NextTypeEnd(types, pos);
        }
        return values;
    }

    /// <summary>Checks one value per single complete type of <paramref name="signature"/> without materialising any.</summary>
    public void SkipValues(Signature signature)
    {
        string types = signature.Value;
        for (int pos = 0; pos < types.Length; pos = Signature.NextTypeEnd(types, pos)) Walk(types.AsSpan(pos), 0, materialize: false);
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
        return Walk(type, 0, materialize: true)!;
    }

    /// <summary>
    /// Reads a value of the single complete type <paramref name="type"/> (already validated).
    /// Arrays of fixed-size basic types come back as typed .NET arrays (byte[], int[], …) so a
    /// large array does not become millions of boxed objects; other arrays are object[], dicts
    /// are KeyValuePair&lt;object, object&gt;[], structs are <see cref="DBusStruct"/>.
    /// </summary>
    internal object ReadValue(string type, int depth) => Walk(type, depth, materialize: true)!;

    /// <summary>Checks a value of the single complete type <paramref name="type"/> (already validated) without materialising it.</summary>
    internal void SkipValue(string type, int depth) => Walk(type, depth, materialize: false);

    /// <summary>
    /// Reads or checks one value of the complete type that starts <paramref name="type"/>
    /// (the span may go on past it). Returns the value when materialising, else null.
    /// </summary>
    private object? Walk(ReadOnlySpan<char> type, int depth, bool materialize)
    {
        switch (type[0])
        {
            case 'y': { byte v = ReadByte(); return materialize ? BoxedBytes[v] : null; }
            case 'b': { bool v = ReadBoolean(); return materialize ? (v ? BoxedTrue : BoxedFalse) : null; }
            case 'n': { short v = ReadInt16(); return materialize ? (object)v : null; }
            case 'q': { ushort v = ReadUInt16(); return materialize ? (object)v : null; }
            case 'i': { int v = ReadInt32(); return materialize ? (object)v : null; }
            case 'u': { uint v = ReadUInt32(); return materialize ? (object)v : null; }
            case 'x': { long v = ReadInt64(); return materialize ? (object)v : null; }
            case 't': { ulong v = ReadUInt64(); return materialize ? (object)v : null; }
            case 'd': { double v = ReadDouble(); return materialize ? (object)v : null; }
            case 's': { var v = ReadStringBytes(); return materialize ? (object)Encoding.UTF8.GetString(v) : null; }
            case 'o': { var v = ReadObjectPathBytes(); return materialize ? (object)new ObjectPath(Encoding.ASCII.GetString(v)) : null; }
            case 'g': { var v = ReadSignatureBytes(out _); return materialize ? (object)CachedSignature(v) : null; }
            case 'h': return ReadUnixFd();
            case 'v': return WalkVariant(depth, materialize);
            case 'a': return WalkArray(type, depth, materialize);
            case '(': return WalkStruct(type, depth, materialize);
            default: throw Error($"unexpected type code '{type[0]}'");
        }
    }

    private object? WalkVariant(int depth, bool materialize)
    {
        EnterContainer(depth);
        var bytes = ReadSignatureBytes(out bool single);
        if (!single) throw Error($"variant signature '{Printable(bytes)}' is not one complete type");
        if (!materialize)
        {
            Span<char> chars = stackalloc char[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) chars[i] = (char)bytes[i];
            Walk(chars, depth + 1, materialize: false);
            return null;
        }
        Signature signature = CachedSignature(bytes);
        return new Variant(signature, Walk(signature.Value, depth + 1, materialize: true)!, trusted: true);
    }

    /// <summary>
    /// The signature with these bytes; an array of variants usually repeats one signature, so the
    /// last one is reused instead of allocating a string per element.
    /// </summary>
    private Signature CachedSignature(ReadOnlySpan<byte> bytes)
    {
        string last = _lastVariantSignature.Value;
        if (last.Length == bytes.Length)
        {
            bool same = true;
            for (int i = 0; i < bytes.Length && same; i++) same = last[i] == bytes[i];
            if (same) return _lastVariantSignature;
        }
        _lastVariantSignature = Signature.FromValidated(Encoding.ASCII.GetString(bytes));
        return _lastVariantSignature;
    }

    private object? WalkArray(ReadOnlySpan<char> type, int depth, bool materialize)
    {
        EnterContainer(depth);
        uint length = ReadUInt32();
        if (length > ProtocolConstants.MaxArrayLength) throw Error($"array of {length} bytes exceeds the limit of {ProtocolConstants.MaxArrayLength}");
        var element = type.Slice(1);
        Align(Signature.AlignmentOf(element[0]));
        if (length > Remaining) throw Error($"array of {length} bytes runs past the end ({Remaining} bytes left)");
        int end = _position + (int)length;
        object? result;
        if (FixedSize(element[0]) is > 0 and int size) result = WalkFixedArray(element[0], size, (int)length, materialize);
        else if (element[0] == '{') result = WalkDict(element, end, depth, materialize);
        else result = WalkElements(element, end, depth, materialize);
        if (_position != end) throw Error($"array contents overrun its length of {length} bytes");
        return result;
    }

    private static int FixedSize(char code) => code switch
    {
        'y' => 1,
        'n' or 'q' => 2,
        'b' or 'i' or 'u' => 4,
        'x' or 't' or 'd' => 8,
        _ => 0,
    };

    /// <summary>Arrays of fixed-size types: a typed .NET array, one allocation whatever the count.</summary>
    private object? WalkFixedArray(char code, int size, int length, bool materialize)
    {
        if (length % size != 0) throw Error($"array of '{code}' has length {length}, not a multiple of {size}");
        int count = length / size;
        if (code == 'y')
        {
            var bytes = Span.Slice(_position, count);
            _position += count;
            return materialize ? bytes.ToArray() : null;
        }
        if (!materialize)
        {
            // Only booleans have invalid values; the other fixed types are any bit pattern.
            if (code == 'b') for (int i = 0; i < count; i++) ReadBoolean();
            else _position += length;
            return null;
        }
        return code switch
        {
            'b' => ReadMany(count, ReadBoolean),
            'n' => ReadMany(count, ReadInt16),
            'q' => ReadMany(count, ReadUInt16),
            'i' => ReadMany(count, ReadInt32),
            'u' => ReadMany(count, ReadUInt32),
            'x' => ReadMany(count, ReadInt64),
            't' => ReadMany(count, ReadUInt64),
            _ => ReadMany(count, ReadDouble),
        };
    }

    private static T[] ReadMany<T>(int count, Func<T> read)
    {
        if (count == 0) return Array.Empty<T>();
        var result = new T[count];
        for (int i = 0; i < count; i++) result[i] = read();
        return result;
    }

    private object? WalkDict(ReadOnlySpan<char> entry, int end, int depth, bool materialize)
    {
        // entry is "{kv}…": the key is one basic type, the value the complete type after it.
        var key = entry.Slice(1);
        var value = entry.Slice(2);
        var entries = materialize ? new List<KeyValuePair<object, object>>() : null;
        while (_position < end)
        {
            EnterContainer(depth + 1);
            Align(8);
            object? k = Walk(key, depth + 2, materialize);
            object? v = Walk(value, depth + 2, materialize);
            entries?.Add(new KeyValuePair<object, object>(k!, v!));
        }
        if (entries == null) return null;
        return entries.Count == 0 ? Array.Empty<KeyValuePair<object, object>>() : entries.ToArray();
    }

    private object? WalkElements(ReadOnlySpan<char> element, int end, int depth, bool materialize)
    {
        var items = materialize ? new List<object>() : null;
        while (_position < end)
        {
            object? item = Walk(element, depth + 1, materialize);
            items?.Add(item!);
        }
        if (items == null) return null;
        return items.Count == 0 ? Array.Empty<object>() : items.ToArray();
    }

    private object? WalkStruct(ReadOnlySpan<char> type, int depth, bool materialize)
    {
        EnterContainer(depth);
        Align(8);
        // type is "(…)…": walk the fields up to the matching ')'.
        var fields = materialize ? new List<object>() : null;
        int pos = 1;
        while (type[pos] != ')')
        {
            object? field = Walk(type.Slice(pos), depth + 1, materialize);
            fields?.Add(field!);
            pos = Signature.NextTypeEnd(type, pos);
        }
        return fields == null ? null : new DBusStruct(fields.ToArray());
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

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[Math.Min(bytes.Length, 256)];
        for (int i = 0; i < chars.Length; i++) chars[i] = bytes[i] is >= (byte)' ' and < 127 ? (char)bytes[i] : '?';
        return new string(chars);
    }

    private static DBusProtocolException Error(string message) => new(message);
}
