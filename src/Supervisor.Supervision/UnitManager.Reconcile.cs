using System.Collections.Immutable;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

// The reconcile: from the unit files as they are now to the units the manager owns and runs.
public sealed partial class UnitManager
{
    /// <summary>
    /// Takes the manager to <paramref name="set"/>: plans against what is loaded now, admits the
    /// files as they are, puts every new definition in place before anything acts on it (so the
    /// dependency graph, stop propagation and shutdown order follow the edit at once), carries out
    /// the plan, and publishes every unit's status as it is afterwards.
    /// </summary>
    /// <remarks>
    /// A set read for a change (<see cref="UnitSet.Changed"/>) costs the units it names: only they
    /// are planned (with the units waiting to be repaired), admitted and published, and the
    /// dependency graph is rebuilt only when one of them changed a relation.
    /// </remarks>
    private IReadOnlyList<PlanAction> Reconcile(UnitSet set, bool startNew, IReadOnlyDictionary<string, Adoption>? adoptions)
    {
        var touched = set.Changed is { } changed ? changed.Where(n => _units.ContainsKey(n) || set.Units.ContainsKey(n) || set.BadUnits.ContainsKey(n)).ToList()
            : _units.Keys.Concat(set.Units.Keys).Concat(set.BadUnits.Keys).Distinct(StringComparer.Ordinal).ToList();
        var loaded = set.Changed is null ? _units.Select(kv => StatusOf(kv.Key, kv.Value))
            : _units.Where(kv => set.Changed.Contains(kv.Key) || MayNeedRepair(kv.Value)).Select(kv => StatusOf(kv.Key, kv.Value));
        var plan = ReconcilePlanner.Plan(Loaded(loaded, set), set, set.Changed);
        var before = touched.Where(_units.ContainsKey).ToDictionary(n => n, n => (_units[n].Definition, IsPlaceholder(_units[n].Runtime)), StringComparer.Ordinal);
        bool added = AdmitValid(set, touched);
        added |= AdmitInvalid(set, touched);
        ForgetVanishedPlaceholders(set, touched);
        foreach (var action in plan) TakeDefinition(action, set);
        if (set.Changed is null || added || !GraphKeeps(before)) RebuildGraph();
        if (added)
        {
            // Listeners read the snapshot: it must hold the new units (a bad-setting placeholder
            // never changes state afterwards, so it would never be exported on D-Bus).
            Publish(touched);
            UnitSetChanged?.Invoke();
        }
        foreach (var action in plan) CarryOut(action, startNew, adoptions);
        Publish(touched);
        return plan;
    }

    /// <summary>What the planner's Repair looks for (<see cref="UnitStatus.DeclaredButNeverRan"/>), read without making a status.</summary>
    private static bool MayNeedRepair(Entry e) =>
        e.Definition.Kind is UnitKind.Service or UnitKind.Socket && e.Runtime is { Sub: SubState.Dead, StopRequested: false, LastExit: null, ActiveSince: null };

    /// <summary>
    /// The graph still holds when every touched unit is still there, as real or placeholder as
    /// before, with the same relations ([Unit], kind, sockets): it reads nothing else of a definition.
    /// </summary>
    private bool GraphKeeps(Dictionary<string, (UnitDefinition Definition, bool Placeholder)> before) =>
        before.All(kv => _units.TryGetValue(kv.Key, out var now) && IsPlaceholder(now.Runtime) == kv.Value.Placeholder
            && now.Definition.Kind == kv.Value.Definition.Kind && now.Definition.Kind != UnitKind.Socket
            && now.Definition.Unit == kv.Value.Definition.Unit && now.Definition.Service.Sockets == kv.Value.Definition.Service.Sockets);

    /// <summary>
    /// What the planner is told is loaded: every unit but the placeholders of files never valid
    /// (once valid, those are new units to it) and the transient units (no file declares them, and
    /// none takes them away). A bad-setting unit whose file is valid in
    /// <paramref name="next"/> is judged as it will be after this reconcile, without bad-setting,
    /// so a unit waiting to run whose broken edit was reverted is repaired now.
    /// </summary>
    private static Dictionary<string, LoadedUnit> Loaded(IEnumerable<UnitStatus> units, UnitSet next) =>
        units.Where(s => !IsPlaceholder(s.Runtime) && !s.Transient)
            .Select(s => s.BadSetting && next.Units.ContainsKey(s.Name) ? s with { BadSetting = false } : s)
            .ToDictionary(s => s.Name, s => new LoadedUnit(s.Definition!, s.Active, s.DeclaredButNeverRan), StringComparer.Ordinal);

    /// <summary>A unit known only from a file that has never been valid: nothing of it runs, and it has no machine.</summary>
    private static bool IsPlaceholder(UnitRuntime r) => r.Sub == SubState.BadSetting;

    /// <summary>
    /// Valid files: a new unit gets an entry, and so does the placeholder of a file that was
    /// invalid until now (it becomes a real unit, with a state machine, that the plan starts);
    /// every unit with a valid file leaves bad-setting.
    /// </summary>
    private bool AdmitValid(UnitSet set, IEnumerable<string> touched)
    {
        bool added = false;
        foreach (var name in touched)
        {
            if (!set.Units.TryGetValue(name, out var parsed)) continue;
            if (!_units.TryGetValue(name, out var entry) || IsPlaceholder(entry.Runtime))
            {
                entry = new Entry(parsed.Definition);
                if (parsed.Definition.Kind is UnitKind.Service or UnitKind.Socket) entry.Machine = new UnitMachine(parsed.Definition, _clock);
                _units[name] = entry;
                added = true;
            }
            entry.Bad = false;
            entry.Removing = false;
            entry.Diagnostics = [.. set.DiagnosticsFor(name)];
        }
        return added;
    }

    /// <summary>
    /// Invalid files: a unit seen valid before keeps its definition (and whatever runs) and shows
    /// bad-setting; one never seen valid gets a placeholder that shows its diagnostics.
    /// </summary>
    private bool AdmitInvalid(UnitSet set, IEnumerable<string> touched)
    {
        bool added = false;
        foreach (var name in touched)
        {
            if (!set.BadUnits.TryGetValue(name, out var path)) continue;
            if (!_units.TryGetValue(name, out var entry))
            {
                var kind = name.EndsWith(".slice", StringComparison.Ordinal) ? UnitKind.Slice
                    : Supervisor.Units.Targets.IsTarget(name) ? UnitKind.Target
                    : name.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal) ? UnitKind.Socket : UnitKind.Service;
                entry = new Entry(new UnitDefinition { Name = name, Kind = kind, Sources = [path] })
                {
                    Runtime = new UnitRuntime { Sub = SubState.BadSetting },
                };
                _units[name] = entry;
                added = true;
            }
            entry.Bad = true;
            entry.Removing = false;
            entry.Diagnostics = [.. set.DiagnosticsFor(name)];
        }
        return added;
    }

    /// <summary>The planner never sees placeholders, so one whose file is gone is forgotten here.</summary>
    private void ForgetVanishedPlaceholders(UnitSet set, IEnumerable<string> touched)
    {
        var gone = touched.Where(n => _units.TryGetValue(n, out var e) && IsPlaceholder(e.Runtime) && !set.Units.ContainsKey(n) && !set.BadUnits.ContainsKey(n))
            .ToList();
        foreach (var name in gone) Remove(name, _units[name]);
    }

    private void TakeDefinition(PlanAction action, UnitSet set)
    {
        if (action.Kind is not (PlanActionKind.Restart or PlanActionKind.ApplyLive or PlanActionKind.Update)) return;
        var next = set.Units[action.Unit].Definition;
        var entry = _units[action.Unit];
        entry.Definition = next;
        entry.Machine?.Update(next);
    }

    private void CarryOut(PlanAction action, bool startNew, IReadOnlyDictionary<string, Adoption>? adoptions)
    {
        if (!_units.TryGetValue(action.Unit, out var entry)) return;
        _host.Log(action.Unit, $"reconcile: {Describe(action)}");
        switch (action.Kind)
        {
            case PlanActionKind.Start when adoptions is not null && adoptions.TryGetValue(action.Unit, out var adopted) && entry.Machine is not null:
                Adopt(action.Unit, entry, adopted);
                break;
            case PlanActionKind.Start:
                if (startNew && StartsOnItsOwn(action.Unit)) EnqueueStart(action.Unit, null);
                break;
            case PlanActionKind.Repair:
                EnqueueStart(action.Unit, null);
                break;
            case PlanActionKind.Stop:
                Retire(action.Unit, entry);
                break;
            case PlanActionKind.Restart:
                Deliver(action.Unit, new UnitEvent.Restart());
                break;
            case PlanActionKind.ApplyLive:
                _host.ApplyResources(entry.Definition);
                break;
            case PlanActionKind.Update or PlanActionKind.KeepBadSetting:
                break;
        }
    }

    /// <summary>Still active from before the supervisor restarted: take it over, do not start a second copy (nor run a oneshot again).</summary>
    private void Adopt(string unit, Entry entry, Adoption adopted)
    {
        var before = entry.Runtime;
        bool exited = adopted.MainPid == Adoption.NoProcess;
        entry.Runtime = new UnitRuntime
        {
            Sub = exited ? SubState.Exited : SubState.Running,
            MainPid = exited ? null : adopted.MainPid,
            NRestarts = adopted.Restarts,
            ActiveSince = _clock.GetTimestamp() - (long)(adopted.ActiveFor.TotalSeconds * _clock.TimestampFrequency),
        };
        if (exited) _host.Log(unit, "still active (exited) from a previous supervisor: not run again");
        else
        {
            _host.Adopt(entry.Definition, adopted.MainPid);
            // Its probes run again from now ([Health]); they were the previous supervisor's timers.
            if (entry.Machine is { } machine)
            {
                var probes = machine.AdoptedProbes(entry.Runtime);
                entry.Runtime = probes.Runtime;
                foreach (var action in probes.Actions) Execute(unit, entry, action);
            }
        }
        OnChanged(unit, entry, before);
    }

    /// <summary>
    /// Its file is gone: a unit that is down is forgotten now; one that runs is stopped, and
    /// forgotten once down (<see cref="OnChanged"/>).
    /// </summary>
    private void Retire(string unit, Entry entry)
    {
        entry.Removing = true;
        if (!Manages(entry) || entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed) Remove(unit, entry);
        else EnqueueStop(unit, null);
    }

    private void Remove(string unit, Entry entry)
    {
        foreach (var t in entry.Timers.Values) t.Timer.Dispose();
        _units.Remove(unit);
        _snapshot = _snapshot.Remove(unit);
        RebuildGraph();
        UnitSetChanged?.Invoke();
    }

    private void RebuildGraph() =>
        _graph = new DependencyGraph(_units.Values.Where(e => !IsPlaceholder(e.Runtime)).Select(e => e.Definition));

    /// <summary>The touched units' status after a reconcile: bad-setting set or cleared, new diagnostics, removed units gone.</summary>
    private void Publish(IEnumerable<string> touched)
    {
        var snapshot = _snapshot.ToBuilder();
        foreach (var name in touched)
            if (_units.TryGetValue(name, out var entry)) snapshot[name] = StatusOf(name, entry);
            else snapshot.Remove(name);
        _snapshot = snapshot.ToImmutable();
    }

    public static string Describe(PlanAction a) =>
        a.Kind switch
        {
            PlanActionKind.Start => $"start ({a.Reason})",
            PlanActionKind.Stop => $"stop ({a.Reason})",
            PlanActionKind.Restart => $"restart ({a.Reason})",
            PlanActionKind.ApplyLive or PlanActionKind.Update when a.Changes.Count == 0 => a.Reason,
            PlanActionKind.ApplyLive => $"apply live: {string.Join(", ", a.Changes.Select(c => c.ToString()))}",
            PlanActionKind.Update => $"update: {string.Join(", ", a.Changes.Select(c => c.ToString()))}",
            PlanActionKind.KeepBadSetting => $"keep running, bad-setting ({a.Reason})",
            PlanActionKind.Repair => $"repair: start ({a.Reason})",
            _ => a.Kind.ToString(),
        };
}
