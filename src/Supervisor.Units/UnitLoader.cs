using System.Collections.Concurrent;
using Supervisor.Units.Interop;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units;

public sealed record LoadOptions
{
    /// <summary>
    /// Refuse unit files and directories not owned by root or writable by group or others.
    /// On by default when the process is root: a unit file is code that runs as root.
    /// </summary>
    public bool RequireRootOwnership { get; init; } = IsRoot;

    public static bool IsRoot => Statx.GetEuid() == 0;
}

/// <summary>
/// Everything loaded from a units directory (or the paths given to <c>check</c>): the valid units,
/// the names of the units that are not valid (each left alone as <c>bad-setting</c>), and every
/// diagnostic. One bad unit never hides or disturbs the others.
/// </summary>
public sealed record UnitSet(
    IReadOnlyDictionary<string, ParsedUnit> Units,
    IReadOnlyDictionary<string, string> BadUnits,
    IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);

    public IEnumerable<Diagnostic> DiagnosticsFor(string unit) => Diagnostics.Where(d => d.Unit == unit);
}

/// <summary>Finds unit files and drop-ins, reads and validates them, then checks dependencies across units.</summary>
public static class UnitLoader
{
    public const string UnitSuffix = ".toml";
    public const string SliceSuffix = ".slice.toml";
    public const string DropInSuffix = ".toml.d";

    public static UnitSet LoadDirectory(string directory, LoadOptions? options = null) => Load([directory], options ?? new LoadOptions());

    /// <summary>Loads unit files and directories of unit files, as <c>supervisor check PATH…</c> does.</summary>
    public static UnitSet Load(IEnumerable<string> paths, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var diagnostics = new List<Diagnostic>();
        var files = new List<(string Name, string Path)>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        var checkedDirs = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal); // directory → safe

        foreach (var raw in paths)
        {
            var path = raw.Length > 1 ? raw.TrimEnd('/') : raw;
            if (Directory.Exists(path))
            {
                IEnumerable<string> entries;
                try
                {
                    entries = Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal).ToList();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), Path.GetFileName(path), null, null,
                        $"cannot list directory: {UnitFileReader.Describe(e)}"));
                    continue;
                }
                foreach (var entry in entries)
                {
                    var fileName = Path.GetFileName(entry);
                    if (fileName.StartsWith('.')) continue;
                    if (fileName.EndsWith(DropInSuffix, StringComparison.Ordinal))
                    {
                        var owner = fileName[..^DropInSuffix.Length];
                        if (!File.Exists(Path.Combine(path, owner + UnitSuffix)))
                            diagnostics.Add(new Diagnostic(Severity.Warning, SourceLocation.File(entry), owner, null, null,
                                $"drop-in directory has no unit '{owner}{UnitSuffix}' beside it; ignoring it"));
                        continue;
                    }
                    if (!fileName.EndsWith(UnitSuffix, StringComparison.Ordinal)) continue;
                    var name = fileName[..^UnitSuffix.Length];
                    files.Add((name, entry));
                    known.Add(name);
                }
            }
            else if (File.Exists(path) || path.EndsWith(UnitSuffix, StringComparison.Ordinal))
            {
                var fileName = Path.GetFileName(path);
                var name = fileName.EndsWith(UnitSuffix, StringComparison.Ordinal) ? fileName[..^UnitSuffix.Length] : fileName;
                if (!fileName.EndsWith(UnitSuffix, StringComparison.Ordinal))
                {
                    diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                        $"not a unit file: names end in '{UnitSuffix}'" +
                        (fileName.EndsWith(".service", StringComparison.Ordinal) ? " (convert a systemd unit with 'supervisor import')" : "")));
                    continue;
                }
                files.Add((name, path));
                known.Add(name);
                // Units beside the file count as existing for dependency checks, without being validated.
                var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
                if (Directory.Exists(dir))
                    foreach (var sibling in Directory.EnumerateFiles(dir, "*" + UnitSuffix))
                        known.Add(Path.GetFileName(sibling)[..^UnitSuffix.Length]);
            }
            else
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), Path.GetFileName(path), null, null,
                    "no such file or directory"));
            }
        }

        if (files.Count > Limits.MaxUnits)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(files[Limits.MaxUnits].Path), files[Limits.MaxUnits].Name, null, null,
                $"more than {Limits.MaxUnits} units; the rest are not loaded"));
            files = files[..Limits.MaxUnits];
        }

        // Files are independent: they are read and parsed in parallel (a thousand units load in a
        // fraction of the time), and the results merged in file order, so the diagnostics come out
        // exactly as a sequential pass would give them.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var duplicate = files.Select(f => !seen.Add(f.Name)).ToArray();
        var perFile = files.Select(_ => new List<Diagnostic>()).ToArray();
        // Each directory is judged once, and reported on its first unit in file order.
        for (int i = 0; i < files.Count; i++)
        {
            if (duplicate[i] || !options.RequireRootOwnership) continue;
            var dir = Path.GetDirectoryName(Path.GetFullPath(files[i].Path))!;
            if (!checkedDirs.ContainsKey(dir))
                checkedDirs[dir] = CheckOne(dir, "directory", files[i].Name, perFile[i]);
        }
        var parsedFiles = new ParsedUnit?[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (!duplicate[i]) parsedFiles[i] = LoadOne(files[i].Name, files[i].Path, options, perFile[i], checkedDirs);
        });

        var units = new Dictionary<string, ParsedUnit>(StringComparer.Ordinal);
        var bad = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++)
        {
            var (name, path) = files[i];
            if (duplicate[i])
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                    $"unit '{name}' is given twice"));
                continue;
            }
            // A person reads a file top to bottom: report its problems in that order.
            diagnostics.AddRange(perFile[i]
                .OrderBy(d => d.Location.Path, StringComparer.Ordinal)
                .ThenBy(d => d.Location.Line).ThenBy(d => d.Location.Column));
            if (parsedFiles[i] is { } parsed) units[name] = parsed;
            else bad[name] = path;
        }

        CheckReferences(units, bad, known, diagnostics);
        CheckOrderingCycles(units, bad, diagnostics);
        return new UnitSet(units, bad, diagnostics);
    }

    private static ParsedUnit? LoadOne(string name, string path, LoadOptions options, List<Diagnostic> diagnostics, ConcurrentDictionary<string, bool> checkedDirs)
    {
        if (!UnitNames.IsValid(name))
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                $"invalid unit name '{name}': {UnitNames.Rule}"));
            return null;
        }
        var kind = name.EndsWith(".slice", StringComparison.Ordinal) ? UnitKind.Slice : UnitKind.Service;
        // Ownership problems make the unit bad, but parsing goes on so that every other
        // problem in it is reported too.
        bool owned = CheckOwnership(path, "unit file", name, options, diagnostics, checkedDirs);
        var main = UnitFileReader.Read(path, name, diagnostics);
        if (main is null) return null;

        var documents = new List<TomlDocument> { main };
        var dropInDir = path + ".d";
        if (Directory.Exists(dropInDir))
        {
            owned &= CheckOwnership(dropInDir, "drop-in directory", name, options, diagnostics, checkedDirs);
            var dropIns = Directory.EnumerateFileSystemEntries(dropInDir)
                .Where(f => f.EndsWith(UnitSuffix, StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith('.'))
                .Order(StringComparer.Ordinal).ToList();
            if (dropIns.Count > Limits.MaxDropIns)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(dropInDir), name, null, null,
                    $"more than {Limits.MaxDropIns} drop-ins"));
                return null;
            }
            foreach (var dropIn in dropIns)
            {
                owned &= CheckOwnership(dropIn, "drop-in", name, options, diagnostics, checkedDirs);
                var doc = UnitFileReader.Read(dropIn, name, diagnostics);
                if (doc is null) return null;
                documents.Add(doc);
            }
        }
        var parsed = UnitParser.Parse(name, kind, documents, diagnostics);
        return owned ? parsed : null;
    }

    /// <summary>
    /// A unit file is code that runs as root: when the supervisor is root, a file (or its
    /// directory) that another user could write would hand that user root. Refuse it and say why.
    /// </summary>
    private static bool CheckOwnership(string path, string what, string? unit, LoadOptions options, List<Diagnostic> diagnostics, ConcurrentDictionary<string, bool> checkedDirs)
    {
        if (!options.RequireRootOwnership) return true;
        bool ok = true;
        if (what is "unit file" or "drop-in")
        {
            // Each directory is judged once and reported once; every unit in a bad one is refused.
            var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            // Unit files' directories are judged before the parallel pass; a drop-in's directory
            // belongs to one unit only.
            if (!checkedDirs.TryGetValue(dir, out var dirOk))
                checkedDirs[dir] = dirOk = CheckOne(dir, "directory", unit ?? Path.GetFileName(dir), diagnostics);
            ok = dirOk;
        }
        return CheckOne(path, what, unit ?? Path.GetFileName(path), diagnostics) && ok;
    }

    private static bool CheckOne(string p, string w, string name, List<Diagnostic> diagnostics)
    {
        if (!Statx.TryGet(p, out var uid, out var mode, out var errno))
        {
            // A missing or unreadable file is reported by the reader with its own message.
            if (errno is 2 or 13) return true;
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(p), name, null, null, $"cannot stat {w}: errno {errno}"));
            return false;
        }
        if (uid != 0)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(p), name, null, null,
                $"refusing {w} owned by uid {uid}: the supervisor runs as root, and a unit file is code it runs as root",
                $"chown root:root '{p}'"));
            return false;
        }
        if ((mode & 0b000_010_010) != 0)
        {
            var who = (mode & 0b010) != 0 ? "everyone" : "its group";
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(p), name, null, null,
                $"refusing {w} writable by {who} (mode {Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0')}): whoever can write it can run code as root",
                $"chmod go-w '{p}'"));
            return false;
        }
        return true;
    }

    private static void CheckReferences(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, HashSet<string> known, List<Diagnostic> diagnostics)
    {
        bool Exists(string n) => units.ContainsKey(n) || bad.ContainsKey(n) || known.Contains(n);
        var all = known.Concat(units.Keys).Distinct().ToList();
        foreach (var (name, parsed) in units.ToList())
        {
            var u = parsed.Definition;
            bool broken = false;
            foreach (var (key, list, required) in new (string, ValueList<string>, bool)[]
            {
                ("Requires", u.Unit.Requires, true), ("BindsTo", u.Unit.BindsTo, true), ("PartOf", u.Unit.PartOf, true),
                ("Wants", u.Unit.Wants, false), ("After", u.Unit.After, false), ("Before", u.Unit.Before, false),
                ("Conflicts", u.Unit.Conflicts, false),
            })
            {
                for (int i = 0; i < list.Count; i++)
                {
                    var target = list[i];
                    var at = parsed.Values.TryGetValue("Unit." + key, out var v) && v is TomlArray a && i < a.Items.Count
                        ? a.Items[i].Location : parsed.LocationOf("Unit", key);
                    if (target == name)
                    {
                        diagnostics.Add(new Diagnostic(Severity.Error, at, name, "Unit", key, $"[Unit] {key}: a unit cannot depend on itself"));
                        broken = true;
                    }
                    else if (!Exists(target))
                    {
                        var message = $"[Unit] {key}: unit '{target}' does not exist";
                        var hint = Values.Suggest.Hint(target, all);
                        if (required)
                        {
                            diagnostics.Add(new Diagnostic(Severity.Error, at, name, "Unit", key, message, hint));
                            broken = true;
                        }
                        else
                        {
                            diagnostics.Add(new Diagnostic(Severity.Warning, at, name, "Unit", key, message + "; ignoring it", hint));
                        }
                    }
                }
            }
            if (u.Kind == UnitKind.Service && u.Service.Slice is { } slice && !Exists(slice))
            {
                var near = Values.Suggest.Nearest(slice, all.Where(n => n.EndsWith(".slice", StringComparison.Ordinal)));
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Service", "Slice"), name, "Service", "Slice",
                    $"[Service] Slice: slice '{slice}' is not declared",
                    near is not null ? $"did you mean '{near[..^".slice".Length]}'?" : $"create {slice}{UnitSuffix}"));
                broken = true;
            }
            if (broken)
            {
                units.Remove(name);
                bad[name] = u.Sources[0];
            }
        }
    }

    /// <summary>
    /// After/Before must form no cycle: a unit cannot start after itself. Each cycle is reported
    /// once, with its path (a → b → a), on every unit in it.
    /// </summary>
    private static void CheckOrderingCycles(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, List<Diagnostic> diagnostics)
    {
        // Edge a → b: a starts after b.
        var after = units.Keys.ToDictionary(n => n, _ => new SortedSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var (name, parsed) in units)
        {
            foreach (var b in parsed.Definition.Unit.After)
                if (units.ContainsKey(b)) after[name].Add(b);
            foreach (var b in parsed.Definition.Unit.Before)
                if (units.ContainsKey(b)) after[b].Add(name);
        }
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on stack, 2 = done
        var stack = new List<string>();
        var inCycle = new List<List<string>>();
        void Visit(string n)
        {
            state[n] = 1;
            stack.Add(n);
            foreach (var m in after[n])
            {
                if (state.GetValueOrDefault(m) == 1)
                    inCycle.Add([.. stack[stack.IndexOf(m)..], m]);
                else if (state.GetValueOrDefault(m) == 0)
                    Visit(m);
            }
            stack.RemoveAt(stack.Count - 1);
            state[n] = 2;
        }
        foreach (var n in after.Keys.Order(StringComparer.Ordinal))
            if (state.GetValueOrDefault(n) == 0) Visit(n);

        foreach (var cycle in inCycle)
        {
            var path = string.Join(" → ", cycle);
            foreach (var n in cycle.Distinct())
            {
                if (!units.TryGetValue(n, out var parsed)) continue;
                var key = parsed.Values.ContainsKey("Unit.After") ? "After" : "Before";
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Unit", key), n, "Unit", key,
                    $"[Unit] ordering cycle: {path} (each starts after the next)"));
                units.Remove(n);
                bad[n] = parsed.Definition.Sources[0];
            }
        }
    }
}
