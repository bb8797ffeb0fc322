using System.Collections.Concurrent;
using Supervisor.Linux.Files;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Templates;

namespace Supervisor.Units;

public sealed record LoadOptions
{
    /// <summary>
    /// Refuse unit files and directories not owned by root or writable by group or others.
    /// On by default when the process is root: a unit file is code that runs as root.
    /// </summary>
    public bool RequireRootOwnership { get; init; } = IsRoot;

    public static bool IsRoot => Statx.GetEuid() == 0;

    /// <summary>Instances of templates to load beside the files ("pg@15-main"): those a <c>start</c> asked for.</summary>
    public IReadOnlySet<string> Instances { get; init; } = new HashSet<string>();

    /// <summary>Parses kept from the previous load of the same directory (the daemon's); null: every file is parsed.</summary>
    public ParsedUnitCache? Cache { get; init; }

    /// <summary>
    /// The paths inotify named since the previous load through <see cref="Cache"/> (already given
    /// to <see cref="ParsedUnitCache.Invalidate"/>): the directory is then not listed again and the
    /// set-wide checks run around the units they touch. Null: the directory is read as a whole.
    /// </summary>
    public IReadOnlyCollection<string>? Changed { get; init; }
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
    /// <summary>
    /// The units whose parse, validity or diagnostics may differ from the previous load through
    /// the same cache (those a change touched, and those checked again around them); null: any
    /// unit may have changed (a full read).
    /// </summary>
    public IReadOnlySet<string>? Changed { get; init; }

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
        var roots = paths.ToList();
        options.Cache?.BeginLoad();
        if (options is { Cache: { } cache, Changed: { } changed } && roots.Count == 1
            && IncrementalLoad.TryLoad(roots[0], options, cache, changed) is { } set)
        {
            cache.EndChange();
            return set;
        }
        return LoadAll(roots, options);
    }

    private static UnitSet LoadAll(List<string> roots, LoadOptions options)
    {
        var diagnostics = new List<Diagnostic>();
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        var (files, known) = Discover(roots, templates, diagnostics);
        AddInstances(files, options.Instances, templates);
        var (units, bad) = LoadFiles(files, options, diagnostics);
        PullInstances(units, bad, templates, options, diagnostics);
        CheckUnusedTemplates(units, bad, templates, options, diagnostics);
        options.Cache?.EndLoad(units.Keys.Concat(bad.Keys).Concat(templates.Keys).ToHashSet(StringComparer.Ordinal));
        known.UnionWith(Targets.WellKnown);
        known.UnionWith(units.Values.SelectMany(u => Instances.Referenced(u.Definition))
            .Where(n => UnitNameParts.TemplateOf(n) is { } t && templates.ContainsKey(t)));
        var parsed = new Dictionary<string, ParsedUnit>(units, StringComparer.Ordinal);
        var parseBad = new Dictionary<string, string>(bad, StringComparer.Ordinal);
        UnitSetChecks.CheckCgroupCollisions(units, bad, diagnostics);
        var references = new List<Diagnostic>();
        UnitSetChecks.CheckReferences(units, bad, known, references);
        diagnostics.AddRange(references);
        UnitSetChecks.CheckSockets(units, bad, templates.Keys.ToHashSet(StringComparer.Ordinal), diagnostics);
        UnitSetChecks.CheckOrderingCycles(units, bad, diagnostics);
        var set = new UnitSet(units, bad, diagnostics);
        if (options.Cache is { } cache)
            cache.State = roots.Count == 1 && Directory.Exists(roots[0])
                ? LoadState.Capture(roots[0], options, cache, files, known, parsed, parseBad, references, set) : null;
        return set;
    }

    /// <summary>The unit files named by the paths (at most <see cref="Limits.MaxUnits"/>), and every unit name seen beside them.</summary>
    private static (List<(string Name, string Path)> Files, HashSet<string> Known) Discover(IEnumerable<string> paths,
        Dictionary<string, string> templates, List<Diagnostic> diagnostics)
    {
        var links = new List<(string Name, string Path)>();
        var files = new List<(string Name, string Path)>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in paths)
        {
            var path = raw.Length > 1 ? raw.TrimEnd('/') : raw;
            if (Directory.Exists(path))
                DiscoverDirectory(path, files, known, templates, links, diagnostics);
            else if (File.Exists(path) || path.EndsWith(UnitSuffix, StringComparison.Ordinal))
                DiscoverFile(path, files, known, templates, links, diagnostics);
            else
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), Path.GetFileName(path), null, null,
                    "no such file or directory"));
        }
        ResolveLinks(links, files, known, templates, diagnostics);
        if (files.Count > Limits.MaxUnits)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(files[Limits.MaxUnits].Path), files[Limits.MaxUnits].Name, null, null,
                $"more than {Limits.MaxUnits} units; the rest are not loaded"));
            files = files[..Limits.MaxUnits];
        }
        return (files, known);
    }

    private static void DiscoverDirectory(string path, List<(string Name, string Path)> files, HashSet<string> known,
        Dictionary<string, string> templates, List<(string Name, string Path)> links, List<Diagnostic> diagnostics)
    {
        List<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), Path.GetFileName(path), null, null,
                $"cannot list directory: {UnitFileReader.Describe(e)}"));
            return;
        }
        foreach (var entry in entries)
        {
            var fileName = Path.GetFileName(entry);
            if (fileName.StartsWith('.')) continue;
            if (fileName.EndsWith(DropInSuffix, StringComparison.Ordinal))
            {
                var owner = fileName[..^DropInSuffix.Length];
                if (!File.Exists(Path.Combine(path, owner + UnitSuffix))
                    && !(UnitNameParts.TemplateOf(owner) is { } template && File.Exists(Path.Combine(path, template + UnitSuffix))))
                    diagnostics.Add(new Diagnostic(Severity.Warning, SourceLocation.File(entry), owner, null, null,
                        $"drop-in directory has no unit '{owner}{UnitSuffix}' beside it; ignoring it"));
                continue;
            }
            if (!fileName.EndsWith(UnitSuffix, StringComparison.Ordinal)) continue;
            var name = fileName[..^UnitSuffix.Length];
            if (!Classify(name, entry, templates, links)) continue;
            files.Add((name, entry));
            known.Add(name);
        }
    }

    /// <summary>A template is remembered, not loaded; an instance symlink or empty file waits for its template. True for a plain unit file.</summary>
    private static bool Classify(string name, string path, Dictionary<string, string> templates, List<(string Name, string Path)> links)
    {
        if (UnitNameParts.IsTemplate(name))
        {
            templates[name] = path;
            return false;
        }
        if (UnitNameParts.IsInstance(name) && Instances.IsInstanceLink(path))
        {
            links.Add((name, path));
            return false;
        }
        return true;
    }

    /// <summary>Each instance symlink or empty file becomes the instance, its text read from its template.</summary>
    private static void ResolveLinks(List<(string Name, string Path)> links, List<(string Name, string Path)> files, HashSet<string> known,
        Dictionary<string, string> templates, List<Diagnostic> diagnostics)
    {
        foreach (var (name, path) in links)
        {
            var template = UnitNameParts.TemplateOf(name)!;
            if (templates.TryGetValue(template, out var templatePath))
            {
                files.Add((name, templatePath));
                known.Add(name);
            }
            else
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                    $"instance '{name}' has no template '{template}{UnitSuffix}' beside it", "create the template, or write the unit in this file"));
            }
        }
    }

    /// <summary>Instances asked for by name (<c>supervisor start NAME@X</c>) whose template exists and that no file names.</summary>
    private static void AddInstances(List<(string Name, string Path)> files, IEnumerable<string> instances, Dictionary<string, string> templates)
    {
        foreach (var name in instances.Order(StringComparer.Ordinal))
            if (UnitNameParts.IsInstance(name) && UnitNames.IsValid(name) && !files.Any(f => f.Name == name)
                && templates.TryGetValue(UnitNameParts.TemplateOf(name)!, out var template))
                files.Add((name, template));
    }

    /// <summary>
    /// Instances named by a Wants/Requires/BindsTo of a loaded unit are loaded from their templates,
    /// and so on for what those pull in, as systemd loads a unit a dependency names.
    /// </summary>
    private static void PullInstances(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad,
        Dictionary<string, string> templates, LoadOptions options, List<Diagnostic> diagnostics)
    {
        var fresh = units.Values.ToList();
        while (fresh.Count > 0 && units.Count + bad.Count < Limits.MaxUnits)
        {
            var wanted = fresh.SelectMany(u => Instances.Pulled(u.Definition)).Distinct(StringComparer.Ordinal)
                .Where(n => UnitNameParts.IsInstance(n) && !units.ContainsKey(n) && !bad.ContainsKey(n))
                .Select(n => (Name: n, Template: templates.GetValueOrDefault(UnitNameParts.TemplateOf(n)!)))
                .Where(t => t.Template is not null)
                .Take(Limits.MaxUnits - units.Count - bad.Count)
                .Select(t => (t.Name, Path: t.Template!))
                .ToList();
            var (more, moreBad) = LoadFiles(wanted, options, diagnostics);
            foreach (var (n, p) in more) units[n] = p;
            foreach (var (n, p) in moreBad) bad[n] = p;
            fresh = [.. more.Values];
        }
    }

    /// <summary>A template no instance uses is still checked (with an empty instance), so that <c>check</c> reports its mistakes; it never becomes a unit.</summary>
    private static void CheckUnusedTemplates(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad,
        Dictionary<string, string> templates, LoadOptions options, List<Diagnostic> diagnostics)
    {
        var used = units.Keys.Concat(bad.Keys).Select(UnitNameParts.TemplateOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var unused = templates.Where(t => !used.Contains(t.Key)).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, t.Value)).ToList();
        LoadFiles(unused, options, diagnostics);
    }

    private static void DiscoverFile(string path, List<(string Name, string Path)> files, HashSet<string> known,
        Dictionary<string, string> templates, List<(string Name, string Path)> links, List<Diagnostic> diagnostics)
    {
        var fileName = Path.GetFileName(path);
        var name = fileName.EndsWith(UnitSuffix, StringComparison.Ordinal) ? fileName[..^UnitSuffix.Length] : fileName;
        if (!fileName.EndsWith(UnitSuffix, StringComparison.Ordinal))
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                $"not a unit file: names end in '{UnitSuffix}'" +
                (fileName.EndsWith(".service", StringComparison.Ordinal) ? " (convert a systemd unit with 'supervisor import')" : "")));
            return;
        }
        if (Classify(name, path, templates, links))
        {
            files.Add((name, path));
            known.Add(name);
        }
        // Units beside the file count as existing for dependency checks, without being validated.
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (Directory.Exists(dir))
            foreach (var sibling in Directory.EnumerateFiles(dir, "*" + UnitSuffix))
            {
                var siblingName = Path.GetFileName(sibling)[..^UnitSuffix.Length];
                if (UnitNameParts.IsTemplate(siblingName)) templates.TryAdd(siblingName, sibling);
                else known.Add(siblingName);
            }
    }

    /// <summary>
    /// Files are independent: they are read and parsed in parallel (a thousand units load in a
    /// fraction of the time), and the results merged in file order, so the diagnostics come out
    /// exactly as a sequential pass would give them.
    /// </summary>
    private static (Dictionary<string, ParsedUnit> Units, Dictionary<string, string> Bad) LoadFiles(
        List<(string Name, string Path)> files, LoadOptions options, List<Diagnostic> diagnostics)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var duplicate = files.Select(f => !seen.Add(f.Name)).ToArray();
        var perFile = files.Select(_ => new List<Diagnostic>()).ToArray();
        var checkedDirs = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal); // directory → safe
        // Each directory is judged once, and reported on its first unit in file order.
        for (int i = 0; i < files.Count; i++)
        {
            if (duplicate[i] || !options.RequireRootOwnership) continue;
            var dir = Path.GetDirectoryName(Path.GetFullPath(files[i].Path))!;
            if (!checkedDirs.ContainsKey(dir))
                checkedDirs[dir] = new UnitFileSafety(perFile[i], checkedDirs).Check(dir, "directory", files[i].Name);
        }
        var parsedFiles = new ParsedUnit?[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (!duplicate[i]) parsedFiles[i] = LoadCached(files[i].Name, files[i].Path, options, perFile[i], checkedDirs);
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
        return (units, bad);
    }

    /// <summary>The unit as the cache has it, when its files were not touched since; else parsed, and remembered with every path it came from.</summary>
    internal static ParsedUnit? LoadCached(string name, string path, LoadOptions options, List<Diagnostic> diagnostics,
        ConcurrentDictionary<string, bool> checkedDirs)
    {
        if (options.Cache is not { } cache) return LoadOne(name, path, options, diagnostics, checkedDirs, []);
        if (cache.TryGet(name, path, out var hit))
        {
            diagnostics.AddRange(hit.Diagnostics);
            return hit.Parsed;
        }
        var mine = new List<Diagnostic>();
        var sources = new List<(string, FileSignature)>();
        var parsed = LoadOne(name, path, options, mine, checkedDirs, sources);
        diagnostics.AddRange(mine);
        cache.Store(name, new ParsedUnitCache.Entry(path, parsed, mine, sources));
        return parsed;
    }

    /// <param name="sources">Receives every path the result depends on, each with its signature taken before it is read.</param>
    private static ParsedUnit? LoadOne(string name, string path, LoadOptions options, List<Diagnostic> diagnostics,
        ConcurrentDictionary<string, bool> checkedDirs, List<(string Path, FileSignature Signature)> sources)
    {
        void Source(string p) => sources.Add((Path.GetFullPath(p), FileSignature.Of(p)));
        Source(path);
        if (!UnitNames.IsValid(name))
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), name, null, null,
                $"invalid unit name '{name}': {UnitNames.Rule}"));
            return null;
        }
        var kind = name.EndsWith(".slice", StringComparison.Ordinal) ? UnitKind.Slice
            : Targets.IsTarget(name) ? UnitKind.Target
            : name.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal) ? UnitKind.Socket : UnitKind.Service;
        var safety = options.RequireRootOwnership ? new UnitFileSafety(diagnostics, checkedDirs) : null;
        // Ownership problems make the unit bad, but parsing goes on so that every other
        // problem in it is reported too.
        bool owned = safety?.CheckFileAndDirectory(path, "unit file", name) ?? true;
        var main = UnitFileReader.Read(path, name, diagnostics);
        if (main is null) return null;

        var documents = new List<TomlDocument> { main };
        // An instance read from its template takes the template's drop-ins and its own ("NAME@X.toml.d").
        var dropInDirs = new List<string> { path + ".d" };
        if (Path.GetFileName(path) != name + UnitSuffix)
            dropInDirs.Add(Path.Combine(Path.GetDirectoryName(path)!, name + DropInSuffix));
        // A drop-in directory created later changes this unit: it is a source even while absent.
        foreach (var dir in dropInDirs) Source(dir);
        dropInDirs.RemoveAll(d => !Directory.Exists(d));
        if (dropInDirs.Count > 0)
        {
            foreach (var dropInDir in dropInDirs)
                if (safety is not null)
                    owned &= checkedDirs[Path.GetFullPath(dropInDir)] = safety.Check(dropInDir, "drop-in directory", name);
            var dropIns = Instances.DropIns(dropInDirs, UnitSuffix);
            if (dropIns.Count > Limits.MaxDropIns)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(dropInDirs[0]), name, null, null,
                    $"more than {Limits.MaxDropIns} drop-ins"));
                return null;
            }
            foreach (var dropIn in dropIns)
            {
                Source(dropIn);
                owned &= safety?.CheckFileAndDirectory(dropIn, "drop-in", name) ?? true;
                var doc = UnitFileReader.Read(dropIn, name, diagnostics);
                if (doc is null) return null;
                documents.Add(doc);
            }
        }
        var parsed = UnitParser.Parse(name, kind, documents, diagnostics);
        return owned ? parsed : null;
    }
}
