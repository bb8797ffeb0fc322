using System.Globalization;
using System.Text;
using Supervisor.Import.Translate;
using Supervisor.Units;
using Supervisor.Units.Keys;

namespace Supervisor.Import.Output;

/// <summary>
/// The TOML unit as written: sections and keys in the key table's order, each key followed by the
/// file and lines it came from, and at the end, as comments, every directive not carried.
/// </summary>
public static class TomlText
{
    public static string Render(Candidate c)
    {
        var sb = new StringBuilder();
        var drops = c.Source.Files.Count - 1;
        sb.Append("# ").Append(Comment(c.Name)).Append(": imported from ").Append(Comment(c.Source.Path))
          .Append(drops > 0 ? $" and {drops} drop-in{(drops == 1 ? "" : "s")}" : "").Append(" by `supervisor import`.\n");
        foreach (var section in KeyTable.SectionsFor(c.Kind))
        {
            var entries = c.Entries.Where(e => e.Spec.Section == section).ToList();
            if (entries.Count == 0) continue;
            sb.Append('\n').Append('[').Append(section).Append("]\n");
            foreach (var e in entries)
            {
                sb.Append(e.Spec.Name).Append(" = ");
                UnitFormatter.WriteToml(sb, e.Value);
                if (Origin(e) is { Length: > 0 } origin) sb.Append("  # ").Append(Comment(origin));
                sb.Append('\n');
            }
        }
        var notCarried = c.Report.NotCarried.OrderBy(n => n.Location.Path, StringComparer.Ordinal).ThenBy(n => n.Location.Line).ToList();
        if (notCarried.Count > 0)
        {
            sb.Append("\n# Not carried:\n");
            foreach (var n in notCarried) sb.Append("#   ").Append(Comment(n.ToString())).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>"redis-server.service:12,13" — where a key's value was written.</summary>
    private static string Origin(Entry e) => string.Join(" ", e.Sources
        .GroupBy(s => Path.GetFileName(s.Assignment.Location.Path))
        .Select(g => g.Key + ":" + string.Join(",", g.Select(s => s.Assignment.Location.Line.ToString(CultureInfo.InvariantCulture)).Distinct())));

    /// <summary>Text from the unit files, safe inside a comment: a newline in a file name must not start a line of TOML.</summary>
    public static string Comment(string text)
    {
        if (!text.Any(char.IsControl)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (var ch in text)
            sb.Append(char.IsControl(ch) ? "\\u" + ((int)ch).ToString("X4", CultureInfo.InvariantCulture) : ch);
        return sb.ToString();
    }
}
