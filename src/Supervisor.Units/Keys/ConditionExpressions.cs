using System.Globalization;
using Supervisor.Units.Values;

namespace Supervisor.Units.Keys;

/// <summary>
/// The comparison expressions of ConditionMemory, ConditionCPUs, ConditionOSRelease and the
/// *Pressure conditions, as systemd 252's compare-operator.c and condition.c read them: pure, so
/// the key table validates them at load and the runtime evaluates them against the host.
/// </summary>
public static class ConditionExpressions
{
    /// <summary>Longest first, so "&lt;=" is not read as "&lt;". "$=" and "!$=" compare with a glob.</summary>
    private static readonly string[] Operators = ["!$=", "$=", "<=", ">=", "==", "!=", "<", ">", "="];

    /// <summary>The operator at the start of <paramref name="text"/> and the rest, or null and the whole text.</summary>
    public static (string? Op, string Remainder) SplitOperator(string text)
    {
        foreach (var op in Operators)
            if (text.StartsWith(op, StringComparison.Ordinal)) return (op, text[op.Length..].TrimStart());
        return (null, text);
    }

    /// <summary>An ordering (or equality) result against an operator; "==" is "=".</summary>
    public static bool Holds(string op, int comparison) => op switch
    {
        "<" => comparison < 0, "<=" => comparison <= 0, "=" or "==" => comparison == 0, "!=" => comparison != 0,
        ">=" => comparison >= 0, ">" => comparison > 0, _ => false,
    };

    /// <summary>ConditionMemory: "[OP]SIZE" ("&gt;=" by default), K M G T powers of 1024.</summary>
    public static (string Op, ulong Bytes)? ParseMemory(string p)
    {
        var (op, rest) = SplitOperator(p.Trim());
        if (op is "$=" or "!$=") return null;
        return Size.TryParse(rest, out var size) && !size.IsInfinity ? (op ?? ">=", size.Bytes) : null;
    }

    /// <summary>ConditionCPUs: "[OP]N" ("&gt;=" by default).</summary>
    public static (string Op, uint Count)? ParseCpus(string p)
    {
        var (op, rest) = SplitOperator(p.Trim());
        if (op is "$=" or "!$=") return null;
        return uint.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (op ?? ">=", n) : null;
    }

    /// <summary>One ConditionOSRelease word: "KEY OP VALUE" (no spaces; quotes around the value are removed).</summary>
    public static (string Key, string Op, string Value)? ParseOsReleaseWord(string word)
    {
        int at = word.IndexOfAny(['!', '<', '=', '>', '$']);
        if (at <= 0) return null;
        var (op, value) = SplitOperator(word[at..]);
        if (op is null) return null;
        var key = word[..at];
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')) return null;
        return (key, op, value.Trim('"', '\''));
    }

    /// <summary>
    /// systemd's version_or_fnmatch_compare: "=" and "!=" compare the strings, "$=" and "!$=" with a
    /// glob, the others as versions.
    /// </summary>
    public static bool CompareOsRelease(string op, string actual, string wanted) => op switch
    {
        "=" or "==" => actual == wanted,
        "!=" => actual != wanted,
        "$=" => Glob.Matches(wanted, actual),
        "!$=" => !Glob.Matches(wanted, actual),
        _ => Holds(op, VersionCompare.Compare(actual, wanted)),
    };

    /// <summary>The words of a ConditionOSRelease value: split at spaces, a quoted value kept whole.</summary>
    public static List<string> OsReleaseWords(string p)
    {
        var words = new List<string>();
        var sb = new System.Text.StringBuilder();
        char? quote = null;
        foreach (var c in p)
        {
            if (quote is null && c is ' ' or '\t')
            {
                if (sb.Length > 0) words.Add(sb.ToString());
                sb.Clear();
                continue;
            }
            if (c is '"' or '\'') quote = quote is null ? c : quote == c ? null : quote;
            sb.Append(c);
        }
        if (sb.Length > 0) words.Add(sb.ToString());
        return words;
    }

    /// <summary>The averaging windows of /proc/pressure/*: systemd's "10sec", "1min", "5min" (the default).</summary>
    public static readonly IReadOnlyDictionary<string, string> PressureWindows = new Dictionary<string, string>
    {
        ["10sec"] = "avg10", ["1min"] = "avg60", ["5min"] = "avg300",
    };

    /// <summary>A *Pressure threshold: "N%" or "N%/WINDOW" → (percent, the field of /proc/pressure to read).</summary>
    public static (decimal Percent, string Field)? ParsePressure(string p)
    {
        var parts = p.Trim().Split('/', 2);
        var percent = parts[0];
        if (!percent.EndsWith('%') || !decimal.TryParse(percent[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n > 100)
            return null;
        if (parts.Length == 1) return (n, "avg300");
        return PressureWindows.TryGetValue(parts[1], out var field) ? (n, field) : null;
    }
}
