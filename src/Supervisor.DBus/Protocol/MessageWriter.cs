using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.DBus;

/// <summary>
/// Marshals values by signature. Alignment is relative to the start of the buffer, which
/// is the message start for the header and the (8-aligned) body start for the body, so it
/// equals the spec's message-relative alignment. We send little-endian; big-endian writing
/// exists so tests can produce the spec's big-endian vectors.
/// </summary>
public sealed class MessageWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;
    private readonly bool _bigEndian;
    private List<SafeHandle>? _fds;

    public MessageWriter(bool bigEndian = false)
    {
        _bigEndian = bigEndian;
    }

    public bool IsBigEndian => _bigEndian;

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    /// <summary>Handles referenced by 'h' values written so far; index i is what the wire carries.</summary>
    public IReadOnlyList<SafeHandle> UnixFds => (IReadOnlyList<SafeHandle>?)_fds ?? Array.Empty<SafeHandle>();

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    public void WriteBoolean(bool value) => WriteUInt32(value ? 1u : 0u);

    public void WriteInt16(short value)
    {
        Align(2);
        Ensure(2);
        if (_bigEndian) BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), value);
        else BinaryPrimitives.WriteInt16LittleEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    public void WriteUInt16(ushort value) => WriteInt16(unchecked((short)value));

    public void WriteInt32(int value)
    {
        Align(4);
        Ensure(4);
        if (_bigEndian) BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), value);
        else BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void WriteUInt32(uint value) => WriteInt32(unchecked((int)value));

    public void WriteInt64(long value)
    {
        Align(8);
        Ensure(8);
        if (_bigEndian) BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), value);
        else BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    public void WriteUInt64(ulong value) => WriteInt64(unchecked((long)value));

    public void WriteDouble(double value) => WriteInt64(BitConverter.DoubleToInt64Bits(value));

    public void WriteString(string value)
    {
        if (value.Contains('\0')) throw new ArgumentException("a D-Bus string cannot contain a NUL character", nameof(value));
        int byteCount = Encoding.UTF8.GetByteCount(value);
        WriteUInt32((uint)byteCount);
        Ensure(byteCount + 1);
        Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        _length += byteCount;
        _buffer[_length++] = 0;
    }

    public void WriteObjectPath(ObjectPath value) => WriteString(value.Value);

    public void WriteSignature(Signature value)
    {
        string s = value.Value;
        WriteByte((byte)s.Length);
        Ensure(s.Length + 1);
        for (int i = 0; i < s.Length; i++) _buffer[_length++] = (byte)s[i];
        _buffer[_length++] = 0;
    }

    public void WriteVariant(Variant value)
    {
        WriteSignature(value.Signature);
        WriteValueCore(value.Signature.Value, value.Value);
    }

    /// <summary>Index of the handle in this message's fd list, added if new.</summary>
    public void WriteUnixFd(SafeHandle handle)
    {
        _fds ??= new List<SafeHandle>();
        int index = _fds.IndexOf(handle);
        if (index < 0)
        {
            if (_fds.Count >= ProtocolConstants.MaxUnixFdsPerMessage)
                throw new ArgumentException($"a message carries at most {ProtocolConstants.MaxUnixFdsPerMessage} unix fds");
            _fds.Add(handle);
            index = _fds.Count - 1;
        }
        WriteUInt32((uint)index);
    }

    /// <summary>Writes one value per single complete type of <paramref name="signature"/>.</summary>
    public void WriteValues(Signature signature, IReadOnlyList<object> values)
    {
        var types = signature.Types;
        if (types.Count != values.Count)
            throw new ArgumentException($"signature '{signature}' needs {types.Count} values, got {values.Count}");
        for (int i = 0; i < types.Count; i++) WriteValueCore(types[i].Value, values[i]);
    }

    /// <summary>Writes <paramref name="value"/> as the single complete type <paramref name="type"/>.</summary>
    public void WriteValue(string type, object value)
    {
        string? error = Signature.Validate(type, requireSingleType: true);
        if (error != null) throw new ArgumentException($"invalid D-Bus type '{type}': {error}", nameof(type));
        WriteValueCore(type, value);
    }

    private void WriteValueCore(string type, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        char code = type[0];
        try
        {
            switch (code)
            {
                case 'y': WriteByte(value is byte b ? b : Convert.ToByte(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'b': WriteBoolean(value is bool v ? v : throw Mismatch(type, value)); return;
                case 'n': WriteInt16(Convert.ToInt16(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'q': WriteUInt16(Convert.ToUInt16(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'i': WriteInt32(Convert.ToInt32(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'u': WriteUInt32(Convert.ToUInt32(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'x': WriteInt64(Convert.ToInt64(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 't': WriteUInt64(Convert.ToUInt64(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 'd': WriteDouble(Convert.ToDouble(Numeric(value), CultureInfo.InvariantCulture)); return;
                case 's': WriteString(value as string ?? throw Mismatch(type, value)); return;
                case 'o': WriteObjectPath(value is ObjectPath p ? p : value is string ps ? new ObjectPath(ps) : throw Mismatch(type, value)); return;
                case 'g': WriteSignature(value is Signature g ? g : value is string gs ? new Signature(gs) : throw Mismatch(type, value)); return;
                case 'h':
                    WriteUnixFd(value switch
                    {
                        UnixFd fd => fd.Handle ?? throw new ArgumentException($"{fd} was taken or closed"),
                        SafeHandle h => h,
                        _ => throw Mismatch(type, value),
                    });
                    return;
                case 'v': WriteVariant(value as Variant ?? throw Mismatch(type, value)); return;
                case 'a': WriteArray(type, value); return;
                case '(': WriteStruct(type, value); return;
                default: throw new ArgumentException($"invalid type '{type}'");
            }
        }
        catch (Exception e) when (e is InvalidCastException or OverflowException or FormatException)
        {
            throw new ArgumentException($"cannot write {DBusValue.Format(value)} ({value.GetType().Name}) as D-Bus type '{type}': {e.Message}", e);
        }
    }

    private void WriteArray(string type, object value)
    {
        string elementType = type.Substring(1);
        WriteUInt32(0); // length, patched below
        int lengthOffset = _length - 4;
        // The padding to the element alignment is written even for an empty array and is
        // not counted in the length.
        Align(Signature.AlignmentOf(elementType[0]));
        int start = _length;
        if (elementType[0] == '{')
        {
            string keyType = elementType.Substring(1, 1);
            string valueType = elementType.Substring(2, elementType.Length - 3);
            foreach (var (k, v) in DictEntries(value, type))
            {
                Align(8);
                WriteValueCore(keyType, k);
                WriteValueCore(valueType, v);
            }
        }
        else if (elementType == "y" && value is byte[] bytes)
        {
            Ensure(bytes.Length);
            bytes.CopyTo(_buffer, _length);
            _length += bytes.Length;
        }
        else
        {
            if (value is string || value is not IEnumerable items) throw Mismatch(type, value);
            foreach (object? item in items) WriteValueCore(elementType, item ?? throw new ArgumentException($"null element in array '{type}'"));
        }
        int arrayLength = _length - start;
        if (arrayLength > ProtocolConstants.MaxArrayLength)
            throw new ArgumentException($"array of type '{type}' is {arrayLength} bytes, over the limit of {ProtocolConstants.MaxArrayLength}");
        if (_bigEndian) BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(lengthOffset), arrayLength);
        else BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(lengthOffset), arrayLength);
    }

    private void WriteStruct(string type, object value)
    {
        Align(8);
        var fieldTypes = Signature.FromValidated(type.Substring(1, type.Length - 2)).Types;
        IReadOnlyList<object?> fields = value switch
        {
            DBusStruct s => s.ToArray(),
            ITuple t => Enumerable.Range(0, t.Length).Select(i => t[i]).ToArray(),
            object[] a => a,
            _ => throw Mismatch(type, value),
        };
        if (fields.Count != fieldTypes.Count)
            throw new ArgumentException($"struct '{type}' needs {fieldTypes.Count} fields, got {fields.Count}");
        for (int i = 0; i < fields.Count; i++)
            WriteValueCore(fieldTypes[i].Value, fields[i] ?? throw new ArgumentException($"null field {i} in struct '{type}'"));
    }

    private static IEnumerable<(object Key, object Value)> DictEntries(object value, string type)
    {
        if (value is IDictionary dictionary)
        {
            foreach (DictionaryEntry e in dictionary) yield return (e.Key, e.Value ?? throw new ArgumentException($"null value in dict '{type}'"));
            yield break;
        }
        if (value is not IEnumerable items) throw Mismatch(type, value);
        foreach (object? item in items)
        {
            switch (item)
            {
                case KeyValuePair<object, object> kv: yield return (kv.Key, kv.Value); break;
                case DictionaryEntry de: yield return (de.Key, de.Value ?? throw new ArgumentException($"null value in dict '{type}'")); break;
                case DBusStruct { Count: 2 } s: yield return (s[0], s[1]); break;
                case ITuple { Length: 2 } t: yield return (t[0]!, t[1]!); break;
                // Typed pairs by name, not by reflection: the binary is trimmed (NativeAOT).
                case KeyValuePair<string, object> kv: yield return (kv.Key, kv.Value); break;
                case KeyValuePair<string, string> kv: yield return (kv.Key, kv.Value); break;
                default: throw new ArgumentException($"dict '{type}' element {DBusValue.Format(item)} is not a key/value pair");
            }
        }
    }

    private static object Numeric(object value) =>
        value is string or bool || value is not IConvertible ? throw new InvalidCastException($"{value.GetType().Name} is not a number") : value;

    private static ArgumentException Mismatch(string type, object value) =>
        new($"cannot write {DBusValue.Format(value)} ({value.GetType().Name}) as D-Bus type '{type}'");

    public void Align(int alignment)
    {
        int padded = (_length + alignment - 1) & ~(alignment - 1);
        Ensure(padded - _length);
        while (_length < padded) _buffer[_length++] = 0;
    }

    /// <summary>Appends raw bytes (used to join header and body).</summary>
    internal void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    internal void PatchUInt32(int offset, uint value)
    {
        if (_bigEndian) BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset), value);
        else BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(offset), value);
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length) return;
        long wanted = Math.Max((long)_buffer.Length * 2, (long)_length + extra);
        if (wanted > Array.MaxLength) throw new ArgumentException("message too large to marshal");
        Array.Resize(ref _buffer, (int)wanted);
    }
}
