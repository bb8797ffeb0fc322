using System.Globalization;

namespace Supervisor.Import.Translate;

/// <summary>
/// systemd's value syntaxes (parse-util.c, time-util.c, rlimit-util.c), read exactly as systemd
/// reads them, so that the number written for Supervisor is the number systemd would have used.
/// Each returns false for what systemd refuses (and then ignores with a warning).
/// </summary>
public static class SystemdValues
{
    /// <summary>systemd's parse_boolean: 1 yes y true t on / 0 no n false f off, in any case.</summary>
    public static bool TryBool(string s, out bool value)
    {
        switch (s.ToLowerInvariant())
        {
            case "1" or "yes" or "y" or "true" or "t" or "on": value = true; return true;
            case "0" or "no" or "n" or "false" or "f" or "off": value = false; return true;
            default: value = false; return false;
        }
    }

    private static readonly (string Name, decimal Usec)[] TimeUnits =
    [
        ("seconds", 1_000_000m), ("second", 1_000_000m), ("sec", 1_000_000m), ("s", 1_000_000m),
        ("minutes", 60_000_000m), ("minute", 60_000_000m), ("min", 60_000_000m),
        ("months", 2_629_800_000_000m), ("month", 2_629_800_000_000m), ("M", 2_629_800_000_000m),
        ("msec", 1_000m), ("ms", 1_000m), ("m", 60_000_000m),
        ("hours", 3_600_000_000m), ("hour", 3_600_000_000m), ("hr", 3_600_000_000m), ("h", 3_600_000_000m),
        ("days", 86_400_000_000m), ("day", 86_400_000_000m), ("d", 86_400_000_000m),
        ("weeks", 604_800_000_000m), ("week", 604_800_000_000m), ("w", 604_800_000_000m),
        ("years", 31_557_600_000_000m), ("year", 31_557_600_000_000m), ("y", 31_557_600_000_000m),
        ("usec", 1m), ("us", 1m), ("\u03bcs", 1m), ("\u00b5s", 1m),
    ];

    /// <summary>
    /// A time span (parse_time): "90", "1min 30s", "1.5h", "5 s", "infinity". A bare number is
    /// in <paramref name="defaultUnitUsec"/> (seconds for the *Sec directives). Null for infinity.
    /// </summary>
    public static bool TryTimespan(string text, long defaultUnitUsec, out long? usec)
    {
        usec = null;
        var s = text.Trim();
        if (s == "infinity") return true;
        if (!TrySumTerms(s, ReadTimeUnit, long.MaxValue, out var total)) return false;
        usec = (long)total;
        return true;

        decimal? ReadTimeUnit(string t, ref int i)
        {
            decimal unit = defaultUnitUsec;
            foreach (var (name, factor) in TimeUnits)
                if (string.CompareOrdinal(t, i, name, 0, name.Length) == 0 && (i + name.Length == t.Length || !char.IsLetter(t[i + name.Length])))
                {
                    unit = factor;
                    i += name.Length;
                    break;
                }
            return i < t.Length && char.IsLetter(t[i]) ? null : unit;
        }
    }

    private static readonly (char Suffix, int Power)[] SizeUnits = [('E', 6), ('P', 5), ('T', 4), ('G', 3), ('M', 2), ('K', 1), ('B', 0)];

    /// <summary>A byte count (parse_size): "512M", "1.5G", "1G 512M", "4096"; K M G T P E are powers of <paramref name="unitBase"/>.</summary>
    public static bool TrySize(string text, int unitBase, out ulong bytes)
    {
        bytes = 0;
        if (!TrySumTerms(text.Trim(), ReadSizeUnit, ulong.MaxValue, out var total)) return false;
        bytes = (ulong)total;
        return true;

        decimal? ReadSizeUnit(string t, ref int i)
        {
            decimal factor = 1;
            char c = i < t.Length ? t[i] : '\0';
            if (c != '\0' && SizeUnits.FirstOrDefault(u => u.Suffix == c) is { Suffix: not '\0' } unit)
            {
                for (int p = 0; p < unit.Power; p++) factor *= unitBase;
                i++;
            }
            return i < t.Length && !char.IsWhiteSpace(t[i]) ? null : factor;
        }
    }

    private delegate decimal? UnitReader(string s, ref int i);

    /// <summary>
    /// systemd's "number unit number unit …" sums (parse_time, parse_size): each number is
    /// multiplied by the factor <paramref name="readUnit"/> reads after it (null: not a unit here)
    /// and truncated; the sum must stay below <paramref name="limit"/>, and there must be a term.
    /// </summary>
    private static bool TrySumTerms(string s, UnitReader readUnit, decimal limit, out decimal total)
    {
        total = 0;
        int i = 0;
        bool any = false;
        while (true)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            if (i == s.Length) break;
            if (!TryNumber(s, ref i, out var number)) return false;
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            if (readUnit(s, ref i) is not { } factor) return false;
            try
            {
                total += decimal.Truncate(number * factor);
            }
            catch (OverflowException)
            {
                return false;
            }
            if (total >= limit) return false;
            any = true;
        }
        return any;
    }

    private static bool TryNumber(string s, ref int i, out decimal number)
    {
        int start = i;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        return decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number)
            && i > start && char.IsAsciiDigit(s[start]);
    }

    /// <summary>A percentage, per mille or per ten thousand of something the host decides (RAM, the kernel's pid limit).</summary>
    public static bool IsRelative(string s)
    {
        var t = s.Trim();
        return t.EndsWith('%') || t.EndsWith('\u2030') || t.EndsWith('\u2031');
    }

    public static bool TryUInt64(string s, out ulong value) =>
        ulong.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
