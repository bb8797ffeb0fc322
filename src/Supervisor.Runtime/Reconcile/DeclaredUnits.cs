using System.Collections.Immutable;
using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Credentials;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Reconcile;

/// <summary>The units directory as last read: what is declared, by name (slices included, for the units' slice chains).</summary>
/// <param name="host">What this supervisor holds (its capabilities); null: detected from this process.</param>
public sealed class DeclaredUnits(string directory, ICgroupDriver driver, HostFacts? host = null)
{
    private readonly HostFacts _host = host ?? HostFacts.Detect();

    private volatile ImmutableDictionary<string, UnitDefinition> _definitions = ImmutableDictionary.Create<string, UnitDefinition>(StringComparer.Ordinal);

    public string Directory { get; } = directory;

    public UnitDefinition? Lookup(string name) => _definitions.GetValueOrDefault(name);

    // Template instances asked for by `start NAME@X`: loaded on every read while their template exists.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _instances = new(StringComparer.Ordinal);

    /// <summary>
    /// Remembers an instance a start asked for, when its template "NAME@.toml" is in the units
    /// directory; false when there is no such template. It is loaded from the next read on, and
    /// forgotten once its template is gone (the instance is then a removed unit, and stops).
    /// </summary>
    public bool RequestInstance(string name)
    {
        if (Units.Templates.UnitNameParts.TemplateOf(name) is not { } template || !Units.Templates.UnitNameParts.IsInstance(name)
            || !File.Exists(Path.Combine(Directory, template + UnitLoader.UnitSuffix)))
            return false;
        _instances[name] = true;
        return true;
    }

    /// <summary>
    /// A transient instance of a template in the units directory (an Accept=yes connection's),
    /// read from the template and its drop-ins as they are now and checked as a declared unit is
    /// (the host checks included); never remembered as declared.
    /// </summary>
    public UnitDefinition Instantiate(string name)
    {
        var template = Units.Templates.UnitNameParts.TemplateOf(name);
        var path = template is null ? null : Path.Combine(Directory, template + UnitLoader.UnitSuffix);
        if (path is null || !File.Exists(path)) throw new Sockets.InstanceException($"there is no template {template}{UnitLoader.UnitSuffix} in {Directory}");
        var set = CheckHost(UnitLoader.Load([path], new LoadOptions { Instances = new HashSet<string>(StringComparer.Ordinal) { name } }));
        if (set.Units.TryGetValue(name, out var parsed)) return parsed.Definition;
        var errors = set.DiagnosticsFor(name).Concat(set.DiagnosticsFor(template!)).Where(d => d.Severity == Severity.Error).Select(d => d.ToString()).ToList();
        throw new Sockets.InstanceException(errors.Count > 0 ? string.Join("; ", errors) : "its template did not load");
    }

    // The parses the reconciles keep between reads: a change re-parses only what it touches.
    private readonly ParsedUnitCache _cache = new();

    /// <summary>The units the last <see cref="Read(ReadScope, IReadOnlyCollection{string})"/> parsed (the rest came from memory).</summary>
    public IReadOnlyCollection<string> LastParsed => _cache.LastParsed;

    /// <summary>Reads the directory, checks [Resources] against this host's cgroups, the capabilities against the supervisor's own and the Landlock keys against the kernel's ABI; nothing is remembered (`supervisor plan`).</summary>
    public UnitSet Read() => Load(null);

    /// <summary>
    /// Reads the directory as the reconciler does, keeping the parses: <see cref="ReadScope.Changed"/>
    /// parses only the units that depend on <paramref name="changed"/> (a unit file, a drop-in or
    /// drop-in directory, a template and so its instances), <see cref="ReadScope.Stale"/> those whose
    /// files look different, <see cref="ReadScope.Everything"/> every file.
    /// </summary>
    public UnitSet Read(ReadScope scope, IReadOnlyCollection<string>? changed = null)
    {
        switch (scope)
        {
            case ReadScope.Changed: _cache.Invalidate(changed ?? []); break;
            case ReadScope.Stale: _cache.DropStale(); break;
            default: _cache.Clear(); break;
        }
        return Load(_cache, scope == ReadScope.Changed ? changed ?? [] : null);
    }

    private UnitSet Load(ParsedUnitCache? cache, IReadOnlyCollection<string>? changed = null)
    {
        foreach (var name in _instances.Keys)
            if (!File.Exists(Path.Combine(Directory, Units.Templates.UnitNameParts.TemplateOf(name)! + UnitLoader.UnitSuffix)))
                _instances.TryRemove(name, out _);
        var set = UnitLoader.LoadDirectory(Directory,
            new LoadOptions { Instances = _instances.Keys.ToHashSet(StringComparer.Ordinal), Cache = cache, Changed = changed });
        return cache is null ? CheckHost(set) : CheckHostOnce(set);
    }

    private UnitSet CheckHost(UnitSet set) =>
        Planning.HostLandlockCheck.Apply(HostCapabilityCheck.Apply(HostResourceCheck.Apply(set, driver), _host), _host);

    /// <summary>The host's verdict on a parse: whether it makes the unit bad, and what it says. The host does not change under a parse.</summary>
    private sealed record Verdict(bool Bad, IReadOnlyList<Diagnostic> Diagnostics);

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ParsedUnit, Verdict> _verdicts = new();

    /// <summary>
    /// The host checks of <see cref="CheckHost"/>, run only on parses they have not judged yet (a
    /// unit kept from the previous read keeps its verdict), so a change costs the units it touched.
    /// </summary>
    private UnitSet CheckHostOnce(UnitSet set)
    {
        // A change: only the units it touched can have a parse not judged yet, or a verdict that differs.
        var which = set.Changed is { } changed && _noted is not null
            ? changed.Where(set.Units.ContainsKey).Select(n => KeyValuePair.Create(n, set.Units[n])).ToList()
            : set.Units.ToList();
        var fresh = which.Where(kv => !_verdicts.TryGetValue(kv.Value, out _)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var judged = CheckHost(new UnitSet(fresh, new Dictionary<string, string>(), []));
        var said = judged.Diagnostics.ToLookup(d => d.Unit, StringComparer.Ordinal);
        foreach (var (name, parsed) in fresh)
            _verdicts.AddOrUpdate(parsed, new Verdict(!judged.Units.ContainsKey(name), [.. said[name]]));
        var carried = set.Changed is { } only && _noted is { } before
            ? before.Where(n => !only.Contains(n) && set.Units.ContainsKey(n)).ToList() : [];
        var noted = new HashSet<string>(StringComparer.Ordinal);
        var units = new Dictionary<string, ParsedUnit>(set.Units, StringComparer.Ordinal);
        var bad = new Dictionary<string, string>(set.BadUnits, StringComparer.Ordinal);
        var diagnostics = set.Diagnostics.ToList();
        foreach (var (name, parsed) in which.Concat(carried.Select(n => KeyValuePair.Create(n, set.Units[n]))))
        {
            var verdict = _verdicts.GetValue(parsed, _ => new Verdict(false, []));
            if (!verdict.Bad && verdict.Diagnostics.Count == 0) continue;
            noted.Add(name);
            diagnostics.AddRange(verdict.Diagnostics);
            if (!verdict.Bad) continue;
            bad[name] = parsed.Definition.Sources[0];
            units.Remove(name);
        }
        _noted = noted;
        return new UnitSet(units, bad, diagnostics) { Changed = set.Changed };
    }

    // The units the host checks refused or warned about at the last read: a change carries their verdicts over.
    private HashSet<string>? _noted;

    /// <summary>Makes <paramref name="set"/> what is declared from now on.</summary>
    public void Accept(UnitSet set)
    {
        if (set.Changed is not { } changed)
        {
            _definitions = set.Units.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal);
            return;
        }
        var next = _definitions.ToBuilder();
        foreach (var name in changed)
            if (set.Units.TryGetValue(name, out var parsed)) next[name] = parsed.Definition;
            else next.Remove(name);
        _definitions = next.ToImmutable();
    }
}

/// <summary>How much of the units directory a reconcile reads again.</summary>
public enum ReadScope
{
    /// <summary>Every file (start, SIGHUP, D-Bus Reload, lost inotify events).</summary>
    Everything,
    /// <summary>The files inotify named and the units that depend on them.</summary>
    Changed,
    /// <summary>The units whose files changed since they were parsed (the safety-net timer).</summary>
    Stale,
}
