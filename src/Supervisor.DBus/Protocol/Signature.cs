namespace Supervisor.DBus;

/// <summary>
/// A validated D-Bus type signature: a list of single complete types within the spec's
/// limits (255 bytes, 32 nested arrays, 32 nested structs).
/// </summary>
public readonly struct Signature : IEquatable<Signature>
{
    private readonly string? _value;

    public Signature(string value)
    {
        string? error = Validate(value, requireSingleType: false);
        if (error != null) throw new ArgumentException($"invalid D-Bus signature '{value}': {error}", nameof(value));
        _value = value;
    }

    private Signature(string value, bool trusted)
    {
        _ = trusted;
        _value = value;
    }

    public static readonly Signature Empty = new(string.Empty, trusted: true);

    public string Value => _value ?? string.Empty;

    public bool IsEmpty => Value.Length == 0;

    /// <summary>True when the signature is exactly one complete type (what a variant holds).</summary>
    public bool IsSingleCompleteType => Value.Length > 0 && NextTypeEnd(Value, 0) == Value.Length;

    /// <summary>The single complete types this signature is made of, in order.</summary>
    public IReadOnlyList<Signature> Types
    {
        get
        {
            var list = new List<Signature>();
            int pos = 0;
            while (pos < Value.Length)
            {
                int end = NextTypeEnd(Value, pos);
                list.Add(new Signature(Value.Substring(pos, end - pos), trusted: true));
                pos = end;
            }
            return list;
        }
    }

    /// <summary>Null when <paramref name="value"/> is a valid signature, else the reason.</summary>
    public static string? Validate(ReadOnlySpan<char> value, bool requireSingleType)
    {
        if (value.Length > ProtocolConstants.MaxSignatureLength)
            return $"longer than {ProtocolConstants.MaxSignatureLength} bytes";
        int pos = 0;
        int count = 0;
        while (pos < value.Length)
        {
            string? error = ParseOne(value, ref pos, 0, 0);
            if (error != null) return error;
            count++;
        }
        if (requireSingleType && count != 1) return $"expected one complete type, got {count}";
        return null;
    }

    public static bool IsValid(string? value, bool requireSingleType = false) =>
        value != null && Validate(value, requireSingleType) == null;

    internal static Signature FromValidated(string value) => new(value, trusted: true);

    private static string? ParseOne(ReadOnlySpan<char> s, ref int pos, int arrayDepth, int structDepth)
    {
        if (pos >= s.Length) return "ends in the middle of a type";
        char c = s[pos++];
        if (IsBasic(c) || c == 'v') return null;
        switch (c)
        {
            case 'a':
                if (arrayDepth + 1 > ProtocolConstants.MaxArrayDepth) return $"more than {ProtocolConstants.MaxArrayDepth} nested arrays";
                if (pos < s.Length && s[pos] == '{')
                {
                    pos++;
                    if (structDepth + 1 > ProtocolConstants.MaxStructDepth) return $"more than {ProtocolConstants.MaxStructDepth} nested structs";
                    if (pos >= s.Length) return "dict entry ends early";
                    if (!IsBasic(s[pos])) return $"dict entry key '{s[pos]}' is not a basic type";
                    pos++;
                    if (pos < s.Length && s[pos] == '}') return "dict entry has no value type";
                    string? valueError = ParseOne(s, ref pos, arrayDepth + 1, structDepth + 1);
                    if (valueError != null) return valueError;
                    if (pos >= s.Length || s[pos] != '}') return "dict entry must hold exactly two types";
                    pos++;
                    return null;
                }
                return ParseOne(s, ref pos, arrayDepth + 1, structDepth);
            case '(':
                if (structDepth + 1 > ProtocolConstants.MaxStructDepth) return $"more than {ProtocolConstants.MaxStructDepth} nested structs";
                if (pos < s.Length && s[pos] == ')') return "empty struct '()'";
                while (true)
                {
                    if (pos >= s.Length) return "struct is not closed";
                    if (s[pos] == ')')
                    {
                        pos++;
                        return null;
                    }
                    string? fieldError = ParseOne(s, ref pos, arrayDepth, structDepth + 1);
                    if (fieldError != null) return fieldError;
                }
            case '{':
                return "dict entry outside an array";
            default:
                return $"unknown or reserved type code '{c}'";
        }
    }

    internal static bool IsBasic(char c) => c is 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'x' or 't' or 'd' or 'h' or 's' or 'o' or 'g';

    /// <summary>Index just past the single complete type starting at <paramref name="pos"/> of a valid signature.</summary>
    internal static int NextTypeEnd(string s, int pos) => NextTypeEnd(s.AsSpan(), pos);

    /// <summary>The number of single complete types in a valid signature.</summary>
    internal static int CountTypes(string s)
    {
        int count = 0;
        for (int pos = 0; pos < s.Length; pos = NextTypeEnd(s, pos)) count++;
        return count;
    }

    /// <summary>The number of fields of the struct type that starts <paramref name="s"/> ("(…)", valid).</summary>
    internal static int CountFields(ReadOnlySpan<char> s)
    {
        int count = 0;
        for (int pos = 1; s[pos] != ')'; pos = NextTypeEnd(s, pos)) count++;
        return count;
    }

    /// <inheritdoc cref="NextTypeEnd(string, int)"/>
    internal static int NextTypeEnd(ReadOnlySpan<char> s, int pos)
    {
        char c = s[pos];
        if (c == 'a') return NextTypeEnd(s, pos + 1);
        if (c == '(' || c == '{')
        {
            char close = c == '(' ? ')' : '}';
            int p = pos + 1;
            while (s[p] != close) p = NextTypeEnd(s, p);
            return p + 1;
        }
        return pos + 1;
    }

    /// <summary>Alignment of the type whose code is <paramref name="c"/> (spec #message-protocol-marshaling).</summary>
    internal static int AlignmentOf(char c) => c switch
    {
        'y' or 'g' or 'v' => 1,
        'n' or 'q' => 2,
        'b' or 'i' or 'u' or 'h' or 's' or 'o' or 'a' => 4,
        _ => 8, // x t d ( {
    };

    public bool Equals(Signature other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is Signature other && Equals(other);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    public override string ToString() => Value;

    public static bool operator ==(Signature a, Signature b) => a.Equals(b);

    public static bool operator !=(Signature a, Signature b) => !a.Equals(b);

    public static implicit operator Signature(string value) => new(value);
}
