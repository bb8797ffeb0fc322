using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// The relations between units, with systemd's semantics:
/// Requires/Wants/BindsTo pull units into a start; After/Before order it (and stop in reverse);
/// a unit that Requires or is PartOf X is stopped when X is stopped or restarted by request;
/// BindsTo X also stops it when X stops for any reason (crash included); Conflicts stop each other;
/// Requisite X lets it start only while X is up (X is never started for it) and stops like Requires.
/// Pure: built from definitions, no processes.
/// </summary>
public sealed class DependencyGraph
{
    private readonly IReadOnlyDictionary<string, UnitDefinition> _units;
    private readonly Dictionary<string, HashSet<string>> _after = new(StringComparer.Ordinal);

    public DependencyGraph(IEnumerable<UnitDefinition> units)
    {
        _units = WithSocketDependencies(units.ToList()).ToDictionary(u => u.Name, StringComparer.Ordinal);
        foreach (var name in _units.Keys) _after[name] = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in _units.Values)
        {
            foreach (var b in u.Unit.After) if (_units.ContainsKey(b)) _after[u.Name].Add(b);
            foreach (var b in u.Unit.Before) if (_units.ContainsKey(b)) _after[b].Add(u.Name);
            foreach (var b in Targets.ImplicitAfter(u, _units.GetValueOrDefault)) _after[u.Name].Add(b);
        }
    }

    public bool Contains(string unit) => _units.ContainsKey(unit);

    /// <summary>Units that must be up before <paramref name="unit"/> starts (After= and the reverse of Before=).</summary>
    public IReadOnlySet<string> OrderedAfter(string unit) => _after.TryGetValue(unit, out var s) ? s : new HashSet<string>();

    /// <summary>
    /// Everything starting <paramref name="roots"/> pulls in: the roots, and transitively what
    /// they Require, Want or are BoundTo. Units that do not exist are skipped (the loader warned).
    /// </summary>
    public IReadOnlySet<string> StartClosure(IEnumerable<string> roots)
    {
        var result = new SortedSet<string>(StringComparer.Ordinal);
        var todo = new Stack<string>(roots.Where(_units.ContainsKey));
        while (todo.Count > 0)
        {
            var n = todo.Pop();
            if (!result.Add(n)) continue;
            var u = _units[n].Unit;
            foreach (var d in u.Requires.Concat(u.Wants).Concat(u.BindsTo))
                if (_units.ContainsKey(d) && !result.Contains(d)) todo.Push(d);
        }
        return result;
    }

    /// <summary>
    /// Start order as waves: every unit of a wave may start in parallel once all earlier waves
    /// are up, because nothing in a wave is ordered after anything else in it or later.
    /// Ordering edges to units outside <paramref name="units"/> are ignored.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> StartWaves(IEnumerable<string> units)
    {
        var set = units.Where(_units.ContainsKey).ToHashSet(StringComparer.Ordinal);
        var waves = new List<IReadOnlyList<string>>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (done.Count < set.Count)
        {
            var wave = set.Where(n => !done.Contains(n) && _after[n].Where(set.Contains).All(done.Contains))
                .Order(StringComparer.Ordinal).ToList();
            if (wave.Count == 0)
                throw new InvalidOperationException("ordering cycle among " + string.Join(", ", set.Except(done).Order(StringComparer.Ordinal)) + "; the loader should have refused it");
            waves.Add(wave);
            done.UnionWith(wave);
        }
        return waves;
    }

    /// <summary>Stop order: the start waves reversed, so a unit stops before what it was started after.</summary>
    public IReadOnlyList<IReadOnlyList<string>> StopWaves(IEnumerable<string> units) =>
        StartWaves(units).Reverse().ToList();

    /// <summary>
    /// Units that must stop when <paramref name="unit"/> stops. <paramref name="requested"/> is
    /// true for a stop or restart asked for by a person or the reconciler, false when the unit
    /// stopped by itself (exited, crashed): then only BindsTo propagates, as in systemd.
    /// </summary>
    public IReadOnlySet<string> StopPropagation(string unit, bool requested)
    {
        var result = new SortedSet<string>(StringComparer.Ordinal);
        var todo = new Stack<(string Name, bool Requested)>();
        todo.Push((unit, requested));
        while (todo.Count > 0)
        {
            var (n, req) = todo.Pop();
            foreach (var other in _units.Values)
            {
                if (other.Name == unit || result.Contains(other.Name)) continue;
                var u = other.Unit;
                bool stops = u.BindsTo.Contains(n) || (req && (u.Requires.Contains(n) || u.Requisite.Contains(n) || u.PartOf.Contains(n)));
                if (stops)
                {
                    result.Add(other.Name);
                    // What is stopped because of a stop is itself stopped "by request" for its dependants.
                    todo.Push((other.Name, true));
                }
            }
        }
        return result;
    }

    /// <summary>Units that restart when <paramref name="unit"/> is restarted by request (PartOf).</summary>
    public IReadOnlySet<string> RestartPropagation(string unit) =>
        _units.Values.Where(u => u.Unit.PartOf.Contains(unit)).Select(u => u.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Units reloaded when <paramref name="unit"/> is: its PropagatesReloadTo and the units naming
    /// it in ReloadPropagatedFrom, transitively (systemd adds try-reload jobs for them the same way).
    /// </summary>
    public IReadOnlyList<string> ReloadPropagation(string unit)
    {
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { unit };
        var todo = new Queue<string>([unit]);
        while (todo.Count > 0)
        {
            var n = todo.Dequeue();
            var to = _units.TryGetValue(n, out var u) ? u.Unit.PropagatesReloadTo : [];
            foreach (var next in to.Concat(_units.Values.Where(o => o.Unit.ReloadPropagatedFrom.Contains(n)).Select(o => o.Name)).Order(StringComparer.Ordinal))
                if (_units.ContainsKey(next) && seen.Add(next))
                {
                    result.Add(next);
                    todo.Enqueue(next);
                }
        }
        return result;
    }

    /// <summary>Units that starting <paramref name="unit"/> stops: its Conflicts and the units that name it in theirs.</summary>
    public IReadOnlySet<string> Conflicting(string unit)
    {
        var result = new SortedSet<string>(StringComparer.Ordinal);
        if (_units.TryGetValue(unit, out var u))
            foreach (var c in u.Unit.Conflicts) if (_units.ContainsKey(c)) result.Add(c);
        foreach (var other in _units.Values)
            if (other.Unit.Conflicts.Contains(unit)) result.Add(other.Name);
        return result;
    }

    /// <summary>Units whose failure to start fails <paramref name="unit"/>'s start (Requires and BindsTo).</summary>
    public IReadOnlySet<string> HardDependencies(string unit) =>
        _units.TryGetValue(unit, out var u)
            ? u.Unit.Requires.Concat(u.Unit.BindsTo).Where(_units.ContainsKey).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>();

    /// <summary>Units that must already be up for <paramref name="unit"/> to start (Requisite): never pulled into its start.</summary>
    public IReadOnlySet<string> Requisites(string unit) =>
        _units.TryGetValue(unit, out var u) && u.Unit.Requisite.Count > 0
            ? u.Unit.Requisite.Where(_units.ContainsKey).ToHashSet(StringComparer.Ordinal)
            : NoUnits;

    /// <summary>Shared and never changed: the job dispatcher asks for requisites of every unit on every pass, and most have none.</summary>
    private static readonly IReadOnlySet<string> NoUnits = System.Collections.Frozen.FrozenSet<string>.Empty;

    /// <summary>What <paramref name="unit"/> needs while it runs: its Requires, Wants, BindsTo and Requisite.</summary>
    public IEnumerable<string> Needs(string unit) =>
        _units.TryGetValue(unit, out var u)
            ? u.Unit.Requires.Concat(u.Unit.Wants).Concat(u.Unit.BindsTo).Concat(u.Unit.Requisite).Where(_units.ContainsKey).Distinct(StringComparer.Ordinal)
            : [];

    /// <summary>The units that need <paramref name="unit"/> (the reverse of <see cref="Needs"/>), for StopWhenUnneeded.</summary>
    public IEnumerable<string> NeededBy(string unit) =>
        _units.Values.Where(u => u.Unit.Requires.Contains(unit) || u.Unit.Wants.Contains(unit) || u.Unit.BindsTo.Contains(unit) || u.Unit.Requisite.Contains(unit))
            .Select(u => u.Name);

    /// <summary>
    /// A service needs its sockets bound before it starts: it gets Requires and After on each of
    /// its socket units (<see cref="SocketUnits.SocketsOf"/>), as systemd orders a socket Before
    /// the service it activates. Requires, not systemd's Wants for Sockets=: a socket that cannot
    /// bind keeps its service from starting instead of starting it without its descriptors.
    /// </summary>
    private static IEnumerable<UnitDefinition> WithSocketDependencies(List<UnitDefinition> units)
    {
        var sockets = units.Where(u => u.Kind == UnitKind.Socket).ToList();
        foreach (var u in units)
        {
            if (u.Kind != UnitKind.Service || (sockets.Count == 0 && u.Service.Sockets.Count == 0))
            {
                yield return u;
                continue;
            }
            var mine = SocketUnits.SocketsOf(u, sockets);
            if (mine.Count == 0)
            {
                yield return u;
                continue;
            }
            yield return u with
            {
                Unit = u.Unit with
                {
                    Requires = new ValueList<string>(u.Unit.Requires.Union(mine, StringComparer.Ordinal)),
                    After = new ValueList<string>(u.Unit.After.Union(mine, StringComparer.Ordinal)),
                },
            };
        }
    }
}
