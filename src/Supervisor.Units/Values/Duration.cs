using System.Globalization;
using System.Text;

namespace Supervisor.Units.Values;

/// <summary>
/// A time span as systemd writes it: <c>250ms</c>, <c>1min 30s</c>, <c>2h</c>, a bare number of
/// seconds (<c>90</c>), or <c>infinity</c>. Microsecond precision, as systemd's usec_t.
/// </summary>
public readonly record struct Duration(long Microseconds)
{
    public static readonly Duration Infinity = new(long.MaxValue);
    public static readonly Duration Zero = new(0);

    public bool IsInfinity => Microseconds == long.MaxValue;

    public TimeSpan ToTimeSpan() => IsInfinity ? Timeout.InfiniteTimeSpan : TimeSpan.FromMicroseconds(Microseconds);

    public static Duration FromMilliseconds(long ms) => new(checked(ms * 1000));
    public static Duration FromSeconds(long s) => new(checked(s * 1_000_000));

    public const string Expected = "a duration like \"250ms\", \"30s\" or \"1min 30s\" (us, ms, s, min, h, d, w; a bare number is seconds) or \"infinity\"";

    // Longest names first so that "min" is not read as "m" + "in", nor "ms" as "m" + "s".
    private static readonly (string Name, long Usec)[] UnitNames =
    [
        ("seconds", 1_000_000), ("second", 1_000_000), ("minutes", 60_000_000), ("minute", 60_000_000),
        ("hours", 3_600_000_000), ("hour", 3_600_000_000), ("days", 86_400_000_000), ("day", 86_400_000_000),
        ("weeks", 604_800_000_000), ("week", 604_800_000_000), ("msec", 1_000), ("usec", 1),
        ("sec", 1_000_000), ("min", 60_000_000), ("hr", 3_600_000_000),
        ("ms", 1_000), ("us", 1), ("µs", 1), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000),
        ("d", 86_400_000_000), ("w", 604_800_000_000),
    ];

    public static Duration Parse(string text)
    {
        if (!TryParse(text, out var d))
            throw new UnitValueException($"expected {Expected}, got \"{text}\"");
        return d;
    }

    public static bool TryParse(string text, out Duration duration)
    {
        duration = default;
        var s = text.Trim();
        if (s == "infinity")
        {
            duration = Infinity;
            return true;
        }
        if (s.Length == 0) return false;
        decimal total = 0;
        int i = 0;
        bool any = false;
        while (i < s.Length)
        {
            while (i < s.Length && s[i] == ' ') i++;
            if (i == s.Length) break;
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start) return false;
            if (!decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            while (i < s.Length && s[i] == ' ') i++;
            long unit = 0;
            if (i == s.Length || char.IsAsciiDigit(s[i]))
            {
                // systemd: a number without a unit is seconds (only meaningful alone or last).
                unit = 1_000_000;
            }
            else
            {
                foreach (var (name, usec) in UnitNames)
                {
                    if (string.CompareOrdinal(s, i, name, 0, name.Length) == 0
                        && (i + name.Length == s.Length || !char.IsAsciiLetter(s[i + name.Length])))
                    {
                        unit = usec;
                        i += name.Length;
                        break;
                    }
                }
                if (unit == 0) return false;
            }
            try
            {
                total = checked(total + number * unit);
            }
            catch (OverflowException)
            {
                return false;
            }
            any = true;
        }
        if (!any || total != decimal.Truncate(total) || total >= long.MaxValue) return false;
        duration = new Duration((long)total);
        return true;
    }

    /// <summary>systemd's format_timespan style: <c>1h 2min 3s 4ms 5us</c>, exact to the microsecond.</summary>
    public override string ToString()
    {
        if (IsInfinity) return "infinity";
        if (Microseconds == 0) return "0";
        var sb = new StringBuilder();
        long rest = Microseconds;
        foreach (var (name, usec) in (ReadOnlySpan<(string, long)>)[("w", 604_800_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000), ("min", 60_000_000), ("s", 1_000_000), ("ms", 1_000), ("us", 1)])
        {
            if (rest >= usec)
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append((rest / usec).ToString(CultureInfo.InvariantCulture)).Append(name);
                rest %= usec;
            }
        }
        return sb.ToString();
    }
}
