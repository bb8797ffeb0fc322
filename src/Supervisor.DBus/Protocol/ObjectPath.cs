namespace Supervisor.DBus;

/// <summary>A validated object path: "/" or "/elem(/elem)*", elements [A-Za-z0-9_]+.</summary>
public readonly struct ObjectPath : IEquatable<ObjectPath>
{
    private readonly string? _value;

    public ObjectPath(string value)
    {
        if (!IsValid(value)) throw new ArgumentException($"invalid D-Bus object path '{value}'", nameof(value));
        _value = value;
    }

    public static readonly ObjectPath Root = new("/");

    public string Value => _value ?? "/";

    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value[0] != '/') return false;
        if (value.Length == 1) return true;
        if (value[^1] == '/') return false;
        for (int i = 1; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '/')
            {
                if (value[i - 1] == '/') return false;
                continue;
            }
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_')) return false;
        }
        return true;
    }

    /// <summary>The same rules for the UTF-8 bytes of a path as it arrives on the wire.</summary>
    internal static bool IsValid(ReadOnlySpan<byte> value)
    {
        if (value.Length == 0 || value[0] != '/') return false;
        if (value.Length == 1) return true;
        if (value[^1] == '/') return false;
        for (int i = 1; i < value.Length; i++)
        {
            byte c = value[i];
            if (c == '/')
            {
                if (value[i - 1] == '/') return false;
                continue;
            }
            if (!(c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_')) return false;
        }
        return true;
    }

    /// <summary>True when this path equals <paramref name="ancestor"/> or lies below it.</summary>
    public bool IsUnder(ObjectPath ancestor)
    {
        if (ancestor.Value == "/") return true;
        return Value == ancestor.Value || Value.StartsWith(ancestor.Value + "/", StringComparison.Ordinal);
    }

    public bool Equals(ObjectPath other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is ObjectPath other && Equals(other);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    public override string ToString() => Value;

    public static bool operator ==(ObjectPath a, ObjectPath b) => a.Equals(b);

    public static bool operator !=(ObjectPath a, ObjectPath b) => !a.Equals(b);

    public static implicit operator ObjectPath(string value) => new(value);
}
