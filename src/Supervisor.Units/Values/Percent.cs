using System.Globalization;

namespace Supervisor.Units.Values;

/// <summary>A percentage such as <c>50%</c> or <c>12.5%</c>, kept exactly in hundredths of a percent.</summary>
public readonly record struct Percent(long Hundredths)
{
    public double Value => Hundredths / 100.0;

    public const string Expected = "a percentage like \"50%\" (up to two decimals)";

    public static Percent Parse(string text)
    {
        if (!TryParse(text, out var p))
            throw new UnitValueException($"expected {Expected}, got \"{text}\"");
        return p;
    }

    public static bool TryParse(string text, out Percent percent)
    {
        percent = default;
        var s = text.Trim();
        if (!s.EndsWith('%')) return false;
        s = s[..^1];
        if (s.Length == 0 || !char.IsAsciiDigit(s[0]) || !char.IsAsciiDigit(s[^1])) return false;
        foreach (var c in s)
            if (!char.IsAsciiDigit(c) && c != '.') return false;
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        if (number > long.MaxValue / 200) return false;
        var hundredths = number * 100;
        if (hundredths != decimal.Truncate(hundredths) || hundredths > long.MaxValue / 2) return false;
        percent = new Percent((long)hundredths);
        return true;
    }

    public override string ToString()
    {
        var whole = Hundredths / 100;
        var frac = Hundredths % 100;
        if (frac == 0) return whole.ToString(CultureInfo.InvariantCulture) + "%";
        return frac % 10 == 0
            ? $"{whole}.{frac / 10}%"
            : $"{whole}.{frac:D2}%";
    }
}
