using Supervisor.Import.Translate;
using Supervisor.Units;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Import.Output;

/// <summary>
/// Runs the translated units through Supervisor's own loader (what <c>supervisor check</c> runs)
/// before anything is written: each key the loader refuses is taken out and reported, and the
/// units are loaded again until the loader accepts them all. A unit that stays invalid with no
/// key left to take out (no ExecStart could be carried) is not written at all. So a file
/// <c>supervisor import</c> writes is never one <c>check</c> refuses.
/// </summary>
public static class ParserCheck
{
    /// <summary>Requires, BindsTo and PartOf must name a unit that exists (the loader's rule); the others only warn.</summary>
    private static readonly string[] MustExist = ["Requires", "BindsTo", "PartOf"];

    /// <param name="candidates">The translated units.</param>
    /// <param name="existing">Units already in the output directory: dependencies may name them.</param>
    public static void Run(IReadOnlyList<Candidate> candidates, IReadOnlyCollection<string> existing)
    {
        DropMissingDependencies(candidates, existing);
        var dir = Directory.CreateTempSubdirectory("supervisor-import-");
        try
        {
            // Units beside the staged files count as existing, without being loaded: stand-ins for the output directory's.
            foreach (var name in existing.Except(candidates.Select(c => c.Name)))
                if (UnitNames.IsValid(name)) File.WriteAllText(Path.Combine(dir.FullName, name + UnitLoader.UnitSuffix), "");
            for (int round = 0; round <= candidates.Sum(c => c.Entries.Count) + candidates.Count; round++)
                if (!Round(candidates, dir.FullName)) break;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>One load of every unit still to be written; true when it took something out (so another is needed).</summary>
    private static bool Round(IReadOnlyList<Candidate> candidates, string dir)
    {
        var staged = new Dictionary<string, Candidate>(StringComparer.Ordinal);
        foreach (var c in candidates)
        {
            var path = Path.Combine(dir, c.FileName);
            if (c.Unwritable is not null)
            {
                File.Delete(path);
                continue;
            }
            File.WriteAllText(path, TomlText.Render(c));
            staged[path] = c;
        }
        if (staged.Count == 0) return false;
        var set = UnitLoader.Load(staged.Keys, new LoadOptions { RequireRootOwnership = false });
        bool changed = false;
        foreach (var d in set.Diagnostics.Where(d => d.Severity == Severity.Error))
        {
            if (!staged.TryGetValue(d.Location.Path, out var c) || c.Unwritable is not null) continue;
            var entry = c.Entries.FirstOrDefault(e => e.Spec.Name == d.Key && e.Spec.Section == d.Section);
            // Accept=yes without its template: taking Accept out would make a different socket (one
            // that hands its listener to a service); the socket is not written, and says what to import.
            if (entry is not null && !(c.Kind == UnitKind.Socket && entry.Spec.Name == "Accept"))
            {
                c.Entries.Remove(entry);
                var detail = "Supervisor's parser refuses it: " + Unprefixed(d, entry.Spec);
                if (entry.Sources.Count > 0) c.Report.Add(entry.Sources[^1].Assignment, Why.Rejected, detail);
                else c.Report.Add(SourceLocation.File(c.Source.Path), entry.Spec.Section, entry.Spec.Name, Why.Rejected, detail);
            }
            else
            {
                c.Unwritable = Unwritable(c, d);
            }
            changed = true;
        }
        if (!changed)
            foreach (var d in set.Diagnostics.Where(d => d.Severity == Severity.Warning))
                if (staged.TryGetValue(d.Location.Path, out var c))
                    c.Report.Notes.Add($"{c.Source.Path}: supervisor check warns: {d.Text}");
        return changed;
    }

    /// <summary>Why a unit cannot be written; for a service the loader refuses without ExecStart, why it has none.</summary>
    private static string Unwritable(Candidate c, Diagnostic d)
    {
        // A unit with no key left at all is refused as an empty file.
        bool noExecStart = d.Key == "ExecStart" || (d.Key is null && c.Entries.Count == 0);
        if (c.Kind == UnitKind.Socket && d.Section == "Socket" && d.Key is "Service" or "Accept")
            return "Supervisor's loader refuses the TOML unit it becomes: " + d.Text + "; " + ImportServiceToo(c, accept: d.Key == "Accept");
        if (!noExecStart || c.Kind != UnitKind.Service) return "Supervisor's loader refuses the TOML unit it becomes: " + d.Text;
        return c.Source.Assignments.Any(a => a is { Section: "Service", Key: "ExecStart" })
            ? "no ExecStart could be carried (see above), and a Supervisor service needs one"
            : "it has no ExecStart, and a Supervisor service needs one";
    }

    /// <summary>
    /// A socket imported without the service it starts: which systemd file to import with it
    /// (ssh.socket → ssh.service beside it; with Accept=yes, the template ssh@.service).
    /// </summary>
    private static string ImportServiceToo(Candidate c, bool accept)
    {
        var named = c.Entries.FirstOrDefault(e => e.Spec is { Section: "Socket", Name: "Service" })?.Value as string;
        var service = accept ? c.Source.Name.Prefix + "@" : named ?? c.Source.Name.Prefix;
        var file = Path.Combine(Path.GetDirectoryName(c.Source.Path) ?? ".", service + ".service");
        return File.Exists(file)
            ? $"or import {file} with it: supervisor import {c.Source.Path} {file}"
            : $"or import the systemd unit {service}.service with it";
    }

    /// <summary>The loader's message without its "[Section] Key: " (the report names the key already).</summary>
    private static string Unprefixed(Diagnostic d, KeySpec? spec)
    {
        var prefix = spec is null ? null : $"[{spec.Section}] {spec.Name}: ";
        return prefix is not null && d.Text.StartsWith(prefix, StringComparison.Ordinal) ? d.Text[prefix.Length..] : d.Text;
    }

    /// <summary>
    /// A Requires (BindsTo, PartOf) on a unit that is neither imported now nor in the output
    /// directory would make the loader refuse the whole key; only that name is taken out.
    /// </summary>
    private static void DropMissingDependencies(IReadOnlyList<Candidate> candidates, IReadOnlyCollection<string> existing)
    {
        var known = new HashSet<string>(existing.Concat(candidates.Select(c => c.Name)), StringComparer.Ordinal);
        foreach (var c in candidates)
        {
            for (int i = 0; i < c.Entries.Count; i++)
            {
                var e = c.Entries[i];
                if (e.Spec.Section != KeyTable.UnitSection || !MustExist.Contains(e.Spec.Name) || e.Value is not List<object> names) continue;
                var kept = new List<object>();
                foreach (var n in names.Cast<string>())
                {
                    // A well-known target always exists; an instance exists when its template does.
                    if (known.Contains(n) || Targets.WellKnown.Contains(n)
                        || (Supervisor.Units.Templates.UnitNameParts.TemplateOf(n) is { } template && known.Contains(template))) kept.Add(n);
                    else c.Report.Add(Mentioning(e, n).Assignment, Why.MissingUnit,
                        $"{n}: not among the units imported now nor in the output directory; Supervisor refuses a {e.Spec.Name} on a missing unit (import it too)");
                }
                c.Entries[i] = e with { Value = kept };
                if (kept.Count == 0) c.Entries.RemoveAt(i--);
            }
        }
    }

    private static Contribution Mentioning(Entry e, string unit) =>
        e.Sources.LastOrDefault(s => s.Value.Split(' ', '\t').Any(w => w == unit || w == unit + ".service")) ?? e.Sources[^1];
}
