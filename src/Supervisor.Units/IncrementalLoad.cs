using System.Collections.Concurrent;
using Supervisor.Units.Model;
using Supervisor.Units.Templates;

namespace Supervisor.Units;

/// <summary>
/// A units directory as last loaded, with the indexes that let a change be checked around the
/// units it touches: which units name a unit (references and slices), which services map to a
/// cgroup path, which units order themselves Before a unit. Kept in <see cref="ParsedUnitCache"/>
/// by a load of one directory whose set-wide checks found nothing but missing soft dependencies
/// (warnings); any other load leaves none, and the next change is loaded in full.
/// </summary>
internal sealed class LoadState
{
    public required string Directory { get; init; }
    public required IReadOnlySet<string> Instances { get; init; }
    /// <summary>Unit name → the file it is read from (for an instance, its template).</summary>
    public required Dictionary<string, string> Files { get; init; }
    public required HashSet<string> Known { get; init; }
    /// <summary>What parsing alone gave, before the set-wide checks.</summary>
    public required Dictionary<string, ParsedUnit> Parsed { get; init; }
    public required Dictionary<string, string> ParseBad { get; init; }
    /// <summary>By unit file name, in the order a load reports them: each unit's parse diagnostics, then its reference warnings.</summary>
    public required SortedDictionary<string, IReadOnlyList<Diagnostic>> ParseDiagnostics { get; init; }
    public required SortedDictionary<string, IReadOnlyList<Diagnostic>> ReferenceDiagnostics { get; init; }
    public required Dictionary<string, HashSet<string>> Referrers { get; init; }
    public required Dictionary<string, HashSet<string>> ByCgroup { get; init; }
    public required Dictionary<string, HashSet<string>> NamedBefore { get; init; }
    public required UnitSet Result { get; set; }

    public static string OrderKey(string name) => name + UnitLoader.UnitSuffix;

    public static string? CgroupOf(ParsedUnit p) =>
        p.Definition.Kind == UnitKind.Service ? UnitCgroup.RelativePath(p.Definition.Service.Slice, UnitCgroup.Leaf(p.Definition.Name)) : null;

    /// <summary>Adds (or with <paramref name="add"/> false removes) a unit's entries in the three indexes.</summary>
    public void Index(string name, ParsedUnit p, bool add)
    {
        foreach (var target in UnitSetChecks.ReferenceTargets(p.Definition)) Edit(Referrers, target, name, add);
        foreach (var target in p.Definition.Unit.Before) Edit(NamedBefore, target, name, add);
        if (CgroupOf(p) is { } cgroup) Edit(ByCgroup, cgroup, name, add);
    }

    private static void Edit(Dictionary<string, HashSet<string>> index, string key, string name, bool add)
    {
        if (add)
        {
            if (!index.TryGetValue(key, out var set)) index[key] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(name);
        }
        else if (index.TryGetValue(key, out var set) && set.Remove(name) && set.Count == 0)
            index.Remove(key);
    }

    /// <summary>
    /// The state of a full load, or null when the load is not one an edit can be checked around:
    /// several paths, a unit in error after the set-wide checks, a diagnostic that is neither a
    /// unit's own parse nor a missing soft dependency (directory safety, templates, drop-in
    /// directories without a unit), socket units.
    /// </summary>
    public static LoadState? Capture(string directory, LoadOptions options, ParsedUnitCache cache, IReadOnlyList<(string Name, string Path)> files,
        HashSet<string> known, Dictionary<string, ParsedUnit> parsed, Dictionary<string, string> parseBad,
        List<Diagnostic> referenceDiagnostics, UnitSet result)
    {
        if (referenceDiagnostics.Any(d => d.Severity == Severity.Error) || result.BadUnits.Count != parseBad.Count
            || parsed.Keys.Concat(parseBad.Keys).Any(n => n.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal)))
            return null;
        var state = new LoadState
        {
            Directory = Path.GetFullPath(directory), Instances = options.Instances,
            Files = files.ToDictionary(f => f.Name, f => f.Path, StringComparer.Ordinal), Known = known,
            Parsed = new(parsed, StringComparer.Ordinal), ParseBad = new(parseBad, StringComparer.Ordinal),
            ParseDiagnostics = new(StringComparer.Ordinal), ReferenceDiagnostics = new(StringComparer.Ordinal),
            Referrers = new(StringComparer.Ordinal), ByCgroup = new(StringComparer.Ordinal), NamedBefore = new(StringComparer.Ordinal),
            Result = result,
        };
        int counted = referenceDiagnostics.Count;
        foreach (var name in parsed.Keys.Concat(parseBad.Keys))
            if (cache.TryGetByName(name, out var entry) && entry.Diagnostics.Count > 0)
            {
                if (UnitNameParts.IsInstance(name)) return null; // reported after the files: not kept in file order here
                state.ParseDiagnostics[OrderKey(name)] = entry.Diagnostics;
                counted += entry.Diagnostics.Count;
            }
        if (counted != result.Diagnostics.Count) return null;
        foreach (var group in referenceDiagnostics.GroupBy(d => d.Unit!, StringComparer.Ordinal))
        {
            if (UnitNameParts.IsInstance(group.Key)) return null;
            state.ReferenceDiagnostics[OrderKey(group.Key)] = [.. group];
        }
        foreach (var (name, p) in parsed) state.Index(name, p, add: true);
        return state;
    }
}

/// <summary>
/// A change of a few unit files loaded at the cost of those files, not of the directory: the
/// kept state stands for the listing, only the named units are parsed, and the set-wide checks
/// run around them: references of and to them, their cgroup path, ordering cycles through them.
/// Whatever this cannot decide exactly as a full load would (a template, an instance, a drop-in
/// directory coming or going, a socket unit, a check that fails) gives null, and the caller loads
/// in full, from the kept parses.
/// </summary>
internal static class IncrementalLoad
{
    public static UnitSet? TryLoad(string directory, LoadOptions options, ParsedUnitCache cache, IReadOnlyCollection<string> changed)
    {
        if (cache.State is not { } state || state.Directory != Path.GetFullPath(directory) || !state.Instances.SetEquals(options.Instances))
            return null;
        if (Names(state, changed) is not { } names || !DirectoryStillSafe(state, options)) return null;
        // The state is edited in place: it is given back only when the change is loaded here;
        // otherwise the full load that follows captures a new one.
        cache.State = null;
        var old = names.Where(state.Parsed.ContainsKey).ToDictionary(n => n, n => state.Parsed[n], StringComparer.Ordinal);
        var wasFile = names.Where(state.Files.ContainsKey).ToHashSet(StringComparer.Ordinal);
        if (old.Values.Any(NamesInstances) || !Parse(state, options, names)) return null;
        foreach (var name in names)
        {
            if (old.TryGetValue(name, out var before)) state.Index(name, before, add: false);
            if (state.Parsed.TryGetValue(name, out var now)) state.Index(name, now, add: true);
            state.ParseDiagnostics.Remove(LoadState.OrderKey(name));
            if (cache.TryGetByName(name, out var entry) && entry.Diagnostics.Count > 0 && state.Files.ContainsKey(name))
                state.ParseDiagnostics[LoadState.OrderKey(name)] = entry.Diagnostics;
        }
        if (names.Any(n => state.Parsed.TryGetValue(n, out var p) && LoadState.CgroupOf(p) is { } c && state.ByCgroup[c].Count > 1)) return null;
        bool namesChanged = names.Any(n => wasFile.Contains(n) != state.Files.ContainsKey(n));
        var rechecked = Recheck(state, names, namesChanged);
        if (rechecked is null || names.Any(n => state.Parsed.ContainsKey(n) && OrderingCycleThrough(n, state.Parsed, state.NamedBefore))) return null;
        var diagnostics = state.ParseDiagnostics.Values.SelectMany(d => d).Concat(state.ReferenceDiagnostics.Values.SelectMany(d => d)).ToList();
        var result = new UnitSet(new Dictionary<string, ParsedUnit>(state.Parsed, StringComparer.Ordinal),
            new Dictionary<string, string>(state.ParseBad, StringComparer.Ordinal), diagnostics) { Changed = rechecked };
        state.Result = result;
        cache.State = state;
        return result;
    }

    /// <summary>The plain units the paths name (a unit file, or a drop-in of an existing unit); null for anything else.</summary>
    private static SortedSet<string>? Names(LoadState state, IReadOnlyCollection<string> changed)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var raw in changed)
        {
            var path = Path.GetFullPath(raw);
            var parent = Path.GetDirectoryName(path)!;
            var fileName = Path.GetFileName(path);
            string name;
            if (parent == state.Directory && fileName.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) && !fileName.StartsWith('.'))
                name = fileName[..^UnitLoader.UnitSuffix.Length];
            else if (Path.GetDirectoryName(parent) == state.Directory && Path.GetFileName(parent) is { } dropIns
                     && dropIns.EndsWith(UnitLoader.DropInSuffix, StringComparison.Ordinal) && state.Files.ContainsKey(dropIns[..^UnitLoader.DropInSuffix.Length]))
                name = dropIns[..^UnitLoader.DropInSuffix.Length];
            else
                return null;
            if (UnitNameParts.IsTemplate(name) || UnitNameParts.IsInstance(name) || name.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal)) return null;
            var file = Path.Combine(state.Directory, name + UnitLoader.UnitSuffix);
            bool exists = File.Exists(file), was = state.Files.ContainsKey(name);
            // A drop-in directory whose unit comes or goes changes a warning the listing gives.
            if (exists != was && System.IO.Directory.Exists(file + ".d")) return null;
            if (exists && !was && state.Files.Count >= Limits.MaxUnits) return null;
            if (Directory.Exists(file)) return null;
            names.Add(name);
        }
        return names;
    }

    private static bool DirectoryStillSafe(LoadState state, LoadOptions options)
    {
        if (!options.RequireRootOwnership) return true;
        var said = new List<Diagnostic>();
        return new UnitFileSafety(said, new ConcurrentDictionary<string, bool>(StringComparer.Ordinal)).Check(state.Directory, "directory", "")
            && said.Count == 0;
    }

    /// <summary>The named units parsed again (or dropped, their file gone); false when one of them now names an instance or socket units.</summary>
    private static bool Parse(LoadState state, LoadOptions options, SortedSet<string> names)
    {
        var checkedDirs = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal) { [state.Directory] = true };
        foreach (var name in names)
        {
            state.Parsed.Remove(name);
            state.ParseBad.Remove(name);
            var file = Path.Combine(state.Directory, name + UnitLoader.UnitSuffix);
            if (!File.Exists(file))
            {
                state.Files.Remove(name);
                if (!Targets.WellKnown.Contains(name)) state.Known.Remove(name);
                continue;
            }
            state.Files[name] = file;
            state.Known.Add(name);
            var unit = UnitLoader.LoadCached(name, file, options, [], checkedDirs);
            if (unit is null) state.ParseBad[name] = file;
            else if (NamesInstances(unit)) return false;
            else state.Parsed[name] = unit;
        }
        return true;
    }

    private static bool NamesInstances(ParsedUnit p) =>
        UnitSetChecks.ReferenceTargets(p.Definition).Any(UnitNameParts.IsInstance)
        || p.Definition.Kind == UnitKind.Service && p.Definition.Service.Sockets.Count > 0;

    /// <summary>
    /// References checked again where they can have changed: the named units; when a name came or
    /// went, the units naming it, and every unit with a missing reference ("did you mean" looks
    /// at every name). Null when one of them is now in error (the full load reports it). Returns
    /// every unit whose diagnostics may differ.
    /// </summary>
    private static HashSet<string>? Recheck(LoadState state, SortedSet<string> names, bool namesChanged)
    {
        var affected = new HashSet<string>(names, StringComparer.Ordinal);
        if (namesChanged)
        {
            foreach (var n in names)
                if (state.Referrers.TryGetValue(n, out var referrers)) affected.UnionWith(referrers);
            foreach (var key in state.ReferenceDiagnostics.Keys) affected.Add(key[..^UnitLoader.UnitSuffix.Length]);
        }
        var said = new List<Diagnostic>();
        UnitSetChecks.CheckReferences(state.Parsed, state.ParseBad, state.Known, said, affected.Order(StringComparer.Ordinal));
        if (said.Any(d => d.Severity == Severity.Error)) return null;
        foreach (var n in affected) state.ReferenceDiagnostics.Remove(LoadState.OrderKey(n));
        foreach (var group in said.GroupBy(d => d.Unit!, StringComparer.Ordinal))
            state.ReferenceDiagnostics[LoadState.OrderKey(group.Key)] = [.. group];
        return affected;
    }

    /// <summary>Whether following "starts after" edges from <paramref name="start"/> comes back to it (the edges read live, so every edit is seen).</summary>
    private static bool OrderingCycleThrough(string start, Dictionary<string, ParsedUnit> units, Dictionary<string, HashSet<string>> namedBefore)
    {
        IEnumerable<string> After(string n)
        {
            var u = units[n].Definition;
            foreach (var b in u.Unit.After) if (units.ContainsKey(b)) yield return b;
            if (namedBefore.TryGetValue(n, out var before)) foreach (var b in before) if (units.ContainsKey(b)) yield return b;
            foreach (var b in Targets.ImplicitAfter(u, x => units.GetValueOrDefault(x)?.Definition)) yield return b;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var todo = new Stack<string>();
        todo.Push(start);
        while (todo.Count > 0)
            foreach (var m in After(todo.Pop()))
            {
                if (m == start) return true;
                if (seen.Add(m)) todo.Push(m);
            }
        return false;
    }
}
