using System.Text;
using System.Text.Json;
using Supervisor.Units;

namespace Supervisor.Fuzz;

/// <summary>
/// What a user of <c>supervisor check</c> is promised about each problem: one line
/// <c>file:line:col: unit: message</c> that names this unit and one of its files, at a line
/// that exists in that file; and the same diagnostic as JSON for <c>check --json</c>.
/// </summary>
public static class UnitDiagnosticChecks
{
    public static void Check(IReadOnlyList<Diagnostic> diagnostics, UnitFileInput files)
    {
        // Lines as an editor counts them: one more than the newlines.
        var lineCounts = files.Contents.ToDictionary(f => f.Key, f => f.Value.AsSpan().Count((byte)'\n') + 1, StringComparer.Ordinal);
        foreach (var d in diagnostics)
        {
            string text;
            try
            {
                text = d.ToString();
                using var w = new Utf8JsonWriter(Stream.Null);
                UnitFormatter.WriteJson(w, d);
            }
            catch (Exception e)
            {
                throw new FuzzFindingException($"a diagnostic cannot be printed: {e.GetType().Name}: {e.Message}", e);
            }
            if (d.Unit != files.Name)
                throw new FuzzFindingException($"diagnostic names unit '{d.Unit}', not '{files.Name}': {text}");
            if (string.IsNullOrWhiteSpace(d.Message))
                throw new FuzzFindingException($"diagnostic without a message: {text}");
            CheckLocation(d, files, lineCounts, text);
            CheckOneLine(text);
        }
    }

    private static void CheckLocation(Diagnostic d, UnitFileInput files, Dictionary<string, int> lineCounts, string text)
    {
        var at = d.Location;
        bool known = files.Contents.ContainsKey(at.Path) || at.Path == files.UnitFile + ".d";
        if (!known)
            throw new FuzzFindingException($"diagnostic points at '{at.Path}', which is not one of this unit's files: {text}");
        if (at.Line < 0 || at.Column < 0 || (at.Line > 0) != (at.Column > 0))
            throw new FuzzFindingException($"diagnostic has line {at.Line}, column {at.Column}: {text}");
        if (at.Line > 0 && lineCounts.TryGetValue(at.Path, out var lines) && at.Line > lines)
            throw new FuzzFindingException($"diagnostic points at line {at.Line}, but the file has {lines} lines: {text}");
    }

    /// <summary>
    /// A unit file's own text ends up in messages (unknown keys, bad values). Quoted or not, it
    /// must not break the one-line format: a newline would let a file forge further lines of
    /// <c>check</c>'s output, a terminal escape would reach the user's terminal.
    /// </summary>
    private static void CheckOneLine(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsControl(rune))
                throw new FuzzFindingException($"diagnostic contains control character U+{rune.Value:X4}, so check's one-line output breaks: {Escape(text)}");
        }
    }

    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
