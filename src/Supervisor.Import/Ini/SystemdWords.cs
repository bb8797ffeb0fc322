using System.Globalization;
using System.Text;

namespace Supervisor.Import.Ini;

/// <summary>How a directive's value is split into words (systemd's ExtractFlags).</summary>
[Flags]
public enum WordRules
{
    /// <summary>Quotes are ordinary characters; a backslash keeps the character after it.</summary>
    None = 0,
    /// <summary>'…' and "…" group a word (anywhere in it) and are removed.</summary>
    Unquote = 1,
    /// <summary>C escapes (\n, \t, \x41, \u00e9, \101, \s …) are decoded; any other escape is an error.</summary>
    CUnescape = 2,
    /// <summary>An unknown escape is kept as written instead of being an error.</summary>
    UnescapeRelax = 4,
    /// <summary>An unterminated quote or a trailing backslash ends the word instead of being an error.</summary>
    Relax = 8,
}

/// <summary>A value systemd cannot split into words (an unterminated quote, a bad escape): systemd ignores the directive.</summary>
public sealed class WordSyntaxException(string message) : Exception(message);

/// <summary>
/// systemd's word splitting (extract_first_word, systemd.syntax(7) "Quoting"): words are separated
/// by whitespace; with <see cref="WordRules.Unquote"/> a quoted part may appear anywhere in a word
/// (<c>a"b c"d</c> is one word, <c>ab cd</c>); a backslash escapes the next character, inside quotes too.
/// </summary>
public static class SystemdWords
{
    private const string Whitespace = " \t\n\r";

    public static List<string> Split(string value, WordRules rules)
    {
        var words = new List<string>();
        int pos = 0;
        while (Next(value, ref pos, rules) is { } word) words.Add(word);
        return words;
    }

    /// <summary>The word at <paramref name="pos"/> (after leading whitespace), or null at the end; pos moves past the whitespace after it.</summary>
    public static string? Next(string s, ref int pos, WordRules rules)
    {
        while (pos < s.Length && Whitespace.Contains(s[pos])) pos++;
        if (pos >= s.Length) return null;
        var sb = new StringBuilder();
        char quote = '\0';
        while (true)
        {
            if (pos >= s.Length)
            {
                if (quote != '\0' && !rules.HasFlag(WordRules.Relax))
                    throw new WordSyntaxException($"unbalanced quotes in \"{s}\"");
                return sb.ToString();
            }
            char c = s[pos];
            if (c == '\\')
            {
                pos++;
                Escape(s, ref pos, rules, quote != '\0', sb);
                continue;
            }
            if (quote != '\0')
            {
                pos++;
                if (c == quote) quote = '\0';
                else sb.Append(c);
                continue;
            }
            if ((c == '\'' || c == '"') && rules.HasFlag(WordRules.Unquote))
            {
                quote = c;
                pos++;
                continue;
            }
            if (Whitespace.Contains(c))
            {
                while (pos < s.Length && Whitespace.Contains(s[pos])) pos++;
                return sb.ToString();
            }
            sb.Append(c);
            pos++;
        }
    }

    private static void Escape(string s, ref int pos, WordRules rules, bool inQuotes, StringBuilder sb)
    {
        if (pos >= s.Length)
        {
            if (rules.HasFlag(WordRules.UnescapeRelax) && (!inQuotes || rules.HasFlag(WordRules.Relax)))
            {
                sb.Append('\\');
                return;
            }
            if (rules.HasFlag(WordRules.Relax)) return;
            throw new WordSyntaxException($"trailing backslash in \"{s}\"");
        }
        if (!rules.HasFlag(WordRules.CUnescape))
        {
            sb.Append(s[pos++]);
            return;
        }
        if (TryUnescape(s, pos, out var decoded, out int length))
        {
            sb.Append(decoded);
            pos += length;
            return;
        }
        if (rules.HasFlag(WordRules.UnescapeRelax))
        {
            sb.Append('\\').Append(s[pos++]);
            return;
        }
        throw new WordSyntaxException($"invalid escape sequence \"\\{s[pos]}\" in \"{s}\"");
    }

    /// <summary>One C escape after a backslash (systemd's cunescape_one): its text and how many characters it took.</summary>
    public static bool TryUnescape(string s, int at, out string decoded, out int length)
    {
        decoded = "";
        length = 1;
        char c = s[at];
        string? simple = c switch
        {
            'a' => "\a", 'b' => "\b", 'f' => "\f", 'n' => "\n", 'r' => "\r", 't' => "\t", 'v' => "\v",
            '\\' => "\\", '"' => "\"", '\'' => "'", 's' => " ",
            _ => null,
        };
        if (simple is not null)
        {
            decoded = simple;
            return true;
        }
        (int digits, int radix) = c switch { 'x' => (2, 16), 'u' => (4, 16), 'U' => (8, 16), >= '0' and <= '7' => (3, 8), _ => (0, 0) };
        if (digits == 0) return false;
        int start = c is >= '0' and <= '7' ? at : at + 1;
        if (start + digits > s.Length) return false;
        var text = s.Substring(start, digits);
        long value;
        if (radix == 16)
        {
            if (!long.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)) return false;
        }
        else
        {
            if (!text.All(d => d is >= '0' and <= '7')) return false;
            value = Convert.ToInt64(text, 8);
        }
        // \x and octal escapes name bytes; a byte of 0x80 or more is half of a UTF-8 sequence, which
        // a Supervisor string cannot hold on its own, and 0 would end the string: both are refused.
        bool isByte = c == 'x' || c is >= '0' and <= '7';
        if (value == 0 || (isByte && value >= 0x80) || value > 0x10FFFF || value is >= 0xD800 and <= 0xDFFF) return false;
        decoded = char.ConvertFromUtf32((int)value);
        length = start - at + digits;
        return true;
    }
}
