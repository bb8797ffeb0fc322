using System.Text;

namespace Supervisor.DBus;

/// <summary>
/// Values by signature. One walker serves two purposes: <see cref="SkipValues"/> checks a body
/// completely without allocating (a message is validated on arrival, before anyone knows whether
/// its body will be wanted) and adds up what materialising it would allocate
/// (<see cref="DecodeCost"/>), and <see cref="ReadValues"/> materialises it. Types are walked as
/// spans of the signature, never cut into substrings; bytes, booleans, empty arrays and short
/// or repeated signatures share instances; arrays are allocated once, at the most elements
/// their byte length allows.
/// </summary>
public sealed partial class MessageReader
{
    // What the .NET objects the walker makes take (64-bit): header and method table 16 bytes.
    private const int BoxSize = 24;           // a boxed number, ObjectPath or Signature
    private const int StringSize = 32;        // plus 2 bytes per character (at most one per UTF-8 byte)
    private const int ArraySize = 24;         // plus the elements
    private const int VariantSize = 32;
    private const int StructSize = 24;        // plus its object[] of fields
    private const int ReaderSize = 256;       // the reader that decodes a body, and its result array's header

    private static readonly object[] BoxedBytes = Enumerable.Range(0, 256).Select(i => (object)(byte)i).ToArray();
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private Signature _lastSignature = Signature.Empty;
    private object _lastSignatureBoxed = Signature.Empty;
    private long _cost;

    /// <summary>
    /// Bytes that materialising the values walked so far allocates at most (an upper bound that
    /// follows the walker's own allocations), so a body can be refused before it is decoded.
    /// </summary>
    internal long DecodeCost => _cost;

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
        _cost += ReaderSize + 8L * Signature.CountTypes(types);
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
            case 'h': return ReadUnixFd();
            case 's': { var v = ReadStringBytes(); _cost += StringSize + 2L * v.Length; return materialize ? Encoding.UTF8.GetString(v) : null; }
            case 'o': { var v = ReadObjectPathBytes(); _cost += BoxSize + StringSize + 2L * v.Length; return materialize ? (object)new ObjectPath(Encoding.ASCII.GetString(v)) : null; }
            case 'g': { var v = ReadSignatureBytes(out _); _cost += SignatureCost(v); return materialize ? CachedSignature(v).Boxed : null; }
            case 'v': return WalkVariant(depth, materialize);
            case 'a': return WalkArray(type, depth, materialize);
            case '(': return WalkStruct(type, depth, materialize);
        }
        _cost += BoxSize;
        return type[0] switch
        {
            'n' => Box(ReadInt16(), materialize),
            'q' => Box(ReadUInt16(), materialize),
            'i' => Box(ReadInt32(), materialize),
            'u' => Box(ReadUInt32(), materialize),
            'x' => Box(ReadInt64(), materialize),
            't' => Box(ReadUInt64(), materialize),
            'd' => Box(ReadDouble(), materialize),
            _ => throw Error($"unexpected type code '{type[0]}'"),
        };
    }

    private static object? Box<T>(T value, bool materialize) where T : struct => materialize ? value : null;

    /// <summary>A signature value: free when shared, else a string and its box.</summary>
    private static long SignatureCost(ReadOnlySpan<byte> bytes) =>
        ShortSignatures.Find(bytes) != null ? 0 : BoxSize + StringSize + 2L * bytes.Length;

    private object? WalkVariant(int depth, bool materialize)
    {
        EnterContainer(depth);
        var bytes = ReadSignatureBytes(out bool single);
        if (!single) throw Error($"variant signature '{Printable(bytes)}' is not one complete type");
        _cost += VariantSize + SignatureCost(bytes);
        if (!materialize)
        {
            Span<char> chars = stackalloc char[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) chars[i] = (char)bytes[i];
            Walk(chars, depth + 1, materialize: false);
            return null;
        }
        Signature signature = CachedSignature(bytes).Signature;
        return new Variant(signature, Walk(signature.Value, depth + 1, materialize: true)!, trusted: true);
    }

    /// <summary>
    /// The signature with these bytes, and the same boxed (a 'g' value): shared when short,
    /// otherwise the last one is reused, since an array of variants usually repeats one signature.
    /// </summary>
    private (Signature Signature, object Boxed) CachedSignature(ReadOnlySpan<byte> bytes)
    {
        if (ShortSignatures.Find(bytes) is { } shared) return shared;
        string last = _lastSignature.Value;
        if (last.Length != bytes.Length || !SameAscii(last, bytes))
        {
            _lastSignature = Signature.FromValidated(Encoding.ASCII.GetString(bytes));
            _lastSignatureBoxed = _lastSignature;
        }
        return (_lastSignature, _lastSignatureBoxed);
    }

    private static bool SameAscii(string s, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            if (s[i] != bytes[i]) return false;
        }
        return true;
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
        else if (element[0] == '{') result = WalkDict(element, (int)length, end, depth, materialize);
        else result = WalkElements(element, (int)length, end, depth, materialize);
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
        // In memory a bool takes 1 byte of its 4 on the wire; the other types their wire size.
        if (count > 0) _cost += ArraySize + (long)count * (code == 'b' ? 1 : size);
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

    private object? WalkDict(ReadOnlySpan<char> entry, int length, int end, int depth, bool materialize)
    {
        // entry is "{kv}…": the key is one basic type, the value the complete type after it.
        var key = entry.Slice(1);
        var value = entry.Slice(2);
        // Entries are 8-aligned, so there are at most length / 8 of them (see WalkElements).
        int capacity = (length + 7) / 8;
        var entries = materialize && capacity > 0 ? new KeyValuePair<object, object>[capacity] : null;
        int count = 0;
        while (_position < end)
        {
            EnterContainer(depth + 1);
            Align(8);
            object? k = Walk(key, depth + 2, materialize);
            object? v = Walk(value, depth + 2, materialize);
            if (entries != null) entries[count] = new KeyValuePair<object, object>(k!, v!);
            count++;
        }
        _cost += ArrayCost(capacity, count, 16);
        if (!materialize) return null;
        return entries == null ? Array.Empty<KeyValuePair<object, object>>() : Trimmed(entries, count);
    }

    private object? WalkElements(ReadOnlySpan<char> element, int length, int end, int depth, bool materialize)
    {
        // Each element takes at least MinimumStride bytes, so one array of length / stride holds
        // them all: no growing copies, and for the cheapest elements (the costly case) it is
        // exactly full and handed out as is.
        int stride = MinimumStride(element[0]);
        int capacity = (length + stride - 1) / stride;
        var items = materialize && capacity > 0 ? new object[capacity] : null;
        int count = 0;
        while (_position < end)
        {
            object? item = Walk(element, depth + 1, materialize);
            if (items != null) items[count] = item!;
            count++;
        }
        _cost += ArrayCost(capacity, count, 8);
        if (!materialize) return null;
        return items == null ? Array.Empty<object>() : Trimmed(items, count);
    }

    /// <summary>The array of <paramref name="capacity"/> slots, and its trimmed copy when fewer were used.</summary>
    private static long ArrayCost(int capacity, int count, int slot) =>
        count == 0 ? (capacity > 0 ? ArraySize + (long)capacity * slot : 0)
        : ArraySize + (long)capacity * slot + (count != capacity ? ArraySize + (long)count * slot : 0);

    private static T[] Trimmed<T>(T[] items, int count)
    {
        if (count == 0) return Array.Empty<T>();
        if (count != items.Length) Array.Resize(ref items, count);
        return items;
    }

    /// <summary>The fewest bytes one element of an array of this type takes, padding to the next element included.</summary>
    private static int MinimumStride(char code) => code switch
    {
        'g' => 2,                       // length byte and NUL of an empty signature
        'v' => 4,                       // "y" and a byte: length, 'y', NUL, value
        'a' or 'h' => 4,                // a length; an fd index
        's' or 'o' => 8,                // length, at least a NUL (a path at least "/"), padded to 4
        '(' => 8,                       // 8-aligned
        _ => 1,
    };

    private object? WalkStruct(ReadOnlySpan<char> type, int depth, bool materialize)
    {
        EnterContainer(depth);
        Align(8);
        // type is "(…)…": walk the fields up to the matching ')', into an array of exactly their number.
        int fieldCount = Signature.CountFields(type);
        _cost += StructSize + ArraySize + 8L * fieldCount;
        var fields = materialize ? new object[fieldCount] : null;
        int pos = 1;
        for (int i = 0; type[pos] != ')'; i++)
        {
            object? field = Walk(type.Slice(pos), depth + 1, materialize);
            if (fields != null) fields[i] = field!;
            pos = Signature.NextTypeEnd(type, pos);
        }
        return fields == null ? null : new DBusStruct(fields);
    }
}
