using System.Collections;

namespace Supervisor.DBus;

/// <summary>A variant: one single complete type and a value of that type.</summary>
public sealed class Variant : IEquatable<Variant>
{
    public Variant(Signature signature, object value)
    {
        if (!signature.IsSingleCompleteType)
            throw new ArgumentException($"a variant holds one complete type, got signature '{signature}'", nameof(signature));
        Signature = signature;
        Value = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>For the reader: the signature is already known to be one complete type.</summary>
    internal Variant(Signature signature, object value, bool trusted)
    {
        _ = trusted;
        Signature = signature;
        Value = value;
    }

    public Signature Signature { get; }

    public object Value { get; }

    /// <summary>A variant whose type is inferred from the .NET type of a basic value (or byte[]/string[]/Variant).</summary>
    public static Variant From(object value) => new(DBus.Signature.FromValidated(InferSignature(value)), value);

    public static string InferSignature(object value) => value switch
    {
        byte => "y",
        bool => "b",
        short => "n",
        ushort => "q",
        int => "i",
        uint => "u",
        long => "x",
        ulong => "t",
        double => "d",
        string => "s",
        ObjectPath => "o",
        DBus.Signature => "g",
        UnixFd => "h",
        Variant => "v",
        byte[] => "ay",
        string[] => "as",
        ObjectPath[] => "ao",
        uint[] => "au",
        int[] => "ai",
        ulong[] => "at",
        _ => throw new ArgumentException($"cannot infer a D-Bus type for a value of type {value.GetType()}; construct the Variant with a signature", nameof(value)),
    };

    public bool Equals(Variant? other) => other != null && Signature == other.Signature && DBusValue.DeepEquals(Value, other.Value);

    public override bool Equals(object? obj) => obj is Variant v && Equals(v);

    public override int GetHashCode() => Signature.GetHashCode();

    public override string ToString() => $"<{Signature}> {DBusValue.Format(Value)}";
}

/// <summary>A struct value "(…)": its fields in order.</summary>
public sealed class DBusStruct : IReadOnlyList<object>, IEquatable<DBusStruct>
{
    private readonly object[] _fields;

    public DBusStruct(params object[] fields)
    {
        if (fields.Length == 0) throw new ArgumentException("a D-Bus struct has at least one field", nameof(fields));
        _fields = fields;
    }

    public object this[int index] => _fields[index];

    public int Count => _fields.Length;

    public IEnumerator<object> GetEnumerator() => ((IEnumerable<object>)_fields).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _fields.GetEnumerator();

    public bool Equals(DBusStruct? other) => other != null && DBusValue.DeepEquals(this, other);

    public override bool Equals(object? obj) => obj is DBusStruct s && Equals(s);

    public override int GetHashCode() => _fields.Length;

    public override string ToString() => DBusValue.Format(this);
}

/// <summary>Structural equality and formatting over the values the reader produces.</summary>
public static class DBusValue
{
    /// <summary>
    /// Structural equality: arrays element by element, structs field by field, variants by
    /// signature and value, dict entries by key and value, doubles bitwise (so NaN equals NaN).
    /// </summary>
    public static bool DeepEquals(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null) return false;
        switch (a)
        {
            case double da when b is double db:
                return BitConverter.DoubleToInt64Bits(da) == BitConverter.DoubleToInt64Bits(db);
            case Variant va when b is Variant vb:
                return va.Signature == vb.Signature && DeepEquals(va.Value, vb.Value);
            case UnixFd fa when b is UnixFd fb:
                return fa.Fd == fb.Fd;
            case KeyValuePair<object, object> ka when b is KeyValuePair<object, object> kb:
                return DeepEquals(ka.Key, kb.Key) && DeepEquals(ka.Value, kb.Value);
            case string or ObjectPath or Signature:
                return a.Equals(b);
            case IEnumerable ea when b is IEnumerable eb:
                {
                    var ia = ea.GetEnumerator();
                    var ib = eb.GetEnumerator();
                    while (true)
                    {
                        bool ma = ia.MoveNext();
                        bool mb = ib.MoveNext();
                        if (ma != mb) return false;
                        if (!ma) return true;
                        if (!DeepEquals(ia.Current, ib.Current)) return false;
                    }
                }
            default:
                return a.Equals(b);
        }
    }

    /// <summary>A short human-readable rendering, for messages and test output.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        KeyValuePair<object, object> kv => Format(kv.Key) + ": " + Format(kv.Value),
        DBusStruct st => "(" + string.Join(", ", st.Select(Format)) + ")",
        Variant v => v.ToString(),
        IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(Format)) + "]",
        _ => value.ToString() ?? "",
    };
}
