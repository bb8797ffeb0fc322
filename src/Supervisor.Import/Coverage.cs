using System.Globalization;
using System.Text;
using Supervisor.Import.Translate;

namespace Supervisor.Import;

/// <summary>One row of <c>import --check</c>: a systemd directive, why it was not carried, and in how many units.</summary>
public sealed record CoverageRow(string Key, Why Why, int Units);

/// <summary>The coverage report: per systemd directive, in how many of the given units it could not be carried, and why.</summary>
public static class Coverage
{
    public static List<CoverageRow> Rows(IEnumerable<Candidate> candidates) =>
    [
        .. candidates
            .SelectMany(c => c.NotCarried.Select(n => (Unit: c.Name, Key: Label(n), n.Why)))
            .Distinct()
            .GroupBy(x => (x.Key, x.Why))
            .Select(g => new CoverageRow(g.Key.Key, g.Key.Why, g.Count()))
            .OrderBy(r => r.Why.ChangesMeaning() ? 0 : 1)
            .ThenByDescending(r => r.Units)
            .ThenBy(r => r.Key, StringComparer.Ordinal),
    ];

    private static string Label(NotCarried n) => n.Section == "Install" ? "[Install] " + n.Key : n.Key;

    public static string Render(IReadOnlyList<Candidate> candidates)
    {
        var rows = Rows(candidates);
        var sb = new StringBuilder();
        int complete = candidates.Count(c => !c.LostMeaning);
        int unwritable = candidates.Count(c => c.Unwritable is not null);
        sb.Append(CultureInfo.InvariantCulture, $"{candidates.Count} units: {complete} carried completely, ")
          .Append(CultureInfo.InvariantCulture, $"{candidates.Count - complete - unwritable} with something left out, {unwritable} that cannot be written\n");
        if (rows.Count > 0)
        {
            int keyWidth = Math.Max("DIRECTIVE".Length, rows.Max(r => r.Key.Length));
            sb.Append('\n').Append("DIRECTIVE".PadRight(keyWidth)).Append("  UNITS  WHY\n");
            foreach (var r in rows)
                sb.Append(r.Key.PadRight(keyWidth)).Append("  ").Append(r.Units.ToString(CultureInfo.InvariantCulture).PadLeft(5)).Append("  ").Append(r.Why.Label()).Append('\n');
        }
        var reasons = candidates.Where(c => c.Unwritable is not null).GroupBy(c => c.Unwritable!).OrderByDescending(g => g.Count()).ToList();
        if (reasons.Count > 0)
        {
            sb.Append("\nNot writable:\n");
            foreach (var g in reasons)
                sb.Append(CultureInfo.InvariantCulture, $"  {g.Count(),3}  {g.Key} ({string.Join(", ", g.Select(c => c.Source.Name.Full).Take(5))}{(g.Count() > 5 ? ", …" : "")})\n");
        }
        return sb.ToString();
    }
}
