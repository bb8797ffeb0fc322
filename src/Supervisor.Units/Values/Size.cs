using System.Globalization;

namespace Supervisor.Units.Values;

/// <summary>
/// A byte count as systemd writes it: <c>256M</c>, <c>1.5G</c>, <c>4096</c>, or <c>infinity</c>.
/// Suffixes are base 1024 (K M G T; a trailing B is allowed), as in systemd's parse_size().
/// </summary>
public readonly record struct Size(ulong Bytes, bool IsInfinity)
{
    public static readonly Size Infinity = new(ulong.MaxValue, true);

    public static Size FromBytes(ulong bytes) => new(bytes, false);

    private static readonly (char Suffix, ulong Factor)[] Units =
    [
        ('T', 1UL << 40),
        ('G', 1UL << 30),
        ('M', 1UL << 20),
        ('K', 1UL << 10),
    ];

    public const string Expected = "a size like \"256M\" (K, M, G, T are powers of 1024) or \"infinity\"";

    public static Size Parse(string text)
    {
        if (!TryParse(text, out var size))
            throw new UnitValueException($"expected {Expected}, got \"{text}\"");
        return size;
    }

    public static bool TryParse(string text, out Size size)
    {
        size = default;
        var s = text.Trim();
        if (s == "infinity")
        {
            size = Infinity;
            return true;
        }
        if (s.EndsWith('B')) s = s[..^1];
        if (s.Length == 0) return false;
        ulong factor = 1;
        foreach (var (suffix, f) in Units)
        {
            if (s[^1] == suffix)
            {
                factor = f;
                s = s[..^1];
                break;
            }
        }
        if (s.Length == 0 || !char.IsAsciiDigit(s[0]) || !char.IsAsciiDigit(s[^1])) return false;
        foreach (var c in s)
            if (!char.IsAsciiDigit(c) && c != '.') return false;
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        // Compare before multiplying: decimal multiplication throws on overflow.
        if (number > (decimal)(ulong.MaxValue - 1) / factor) return false;
        var bytes = number * factor;
        if (bytes > ulong.MaxValue - 1 || bytes != decimal.Truncate(bytes)) return false;
        size = FromBytes((ulong)bytes);
        return true;
    }

    /// <summary>The shortest exact form: the largest suffix that divides the count.</summary>
    public override string ToString()
    {
        if (IsInfinity) return "infinity";
        if (Bytes == 0) return "0";
        foreach (var (suffix, factor) in Units)
            if (Bytes % factor == 0)
                return (Bytes / factor).ToString(CultureInfo.InvariantCulture) + suffix;
        return Bytes.ToString(CultureInfo.InvariantCulture);
    }
}
