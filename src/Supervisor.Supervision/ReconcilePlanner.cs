using Supervisor.Units;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

public enum PlanActionKind
{
    /// <summary>A new unit: start it.</summary>
    Start,
    /// <summary>A unit whose file is gone: stop it and forget it.</summary>
    Stop,
    /// <summary>A change that only takes effect in a new process (ExecStart, sandbox, user …).</summary>
    Restart,
    /// <summary>Resource limits changed: written to the running unit's cgroup, no restart.</summary>
    ApplyLive,
    /// <summary>Settings read only when needed (description, restart policy, timeouts): the running process is left alone.</summary>
    Update,
    /// <summary>The file became invalid: the running instance is left alone and reported bad-setting.</summary>
    KeepBadSetting,
    /// <summary>A unit that should run is not running and nothing will restart it (it died while no restart was pending).</summary>
    Repair,
}

/// <summary>One changed key: old and new value as they are written in a unit file.</summary>
public sealed record KeyChange(string Section, string Key, string? Old, string? New)
{
    public override string ToString() => $"{Section}.{Key}: {Old ?? "(not set)"} → {New ?? "(not set)"}";
}

public sealed record PlanAction(string Unit, PlanActionKind Kind, string Reason, IReadOnlyList<KeyChange> Changes);

/// <summary>What the reconciler knows of a unit that is loaded now.</summary>
public sealed record LoadedUnit(UnitDefinition Definition, ActiveState State, bool WantedRunning);

/// <summary>
/// Computes the smallest set of actions that takes what runs to what is declared, without
/// doing anything: the basis of both the reconciler and `supervisor plan` (like terraform plan).
/// The key table decides the action (<see cref="KeySpec.OnChange"/>): a changed key that only
/// a new process honours (ExecStart, User, Environment, every [Sandbox] key …) restarts a
/// running unit; [Resources] limits apply live; the rest ([Unit], restart policy, timeouts,
/// ExecStop …) is used from the next time it is needed or from this reload on.
/// </summary>
public static class ReconcilePlanner
{
    /// <param name="only">
    /// The units that may have changed (<see cref="UnitSet.Changed"/>): the others are only
    /// looked at for a repair, and only those in <paramref name="current"/>. Null: every unit.
    /// </param>
    public static IReadOnlyList<PlanAction> Plan(IReadOnlyDictionary<string, LoadedUnit> current, UnitSet desired, IReadOnlySet<string>? only = null)
    {
        var plan = new List<PlanAction>();
        var names = only is null ? desired.Units.Keys : only.Concat(current.Keys).Distinct(StringComparer.Ordinal).Where(desired.Units.ContainsKey);
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            var next = desired.Units[name].Definition;
            if (!current.TryGetValue(name, out var loaded))
            {
                if (next.Kind is UnitKind.Service or UnitKind.Target or UnitKind.Socket)
                    plan.Add(new PlanAction(name, PlanActionKind.Start, "new unit file", []));
                else
                    plan.Add(new PlanAction(name, PlanActionKind.ApplyLive, "new slice", []));
                continue;
            }
            // A unit whose files were not touched keeps the very definition it had: nothing to compare.
            IReadOnlyList<KeyChange> changes = ReferenceEquals(loaded.Definition, next) ? [] : Diff(loaded.Definition, next);
            bool running = loaded.State is ActiveState.Active or ActiveState.Activating or ActiveState.Reloading;
            if (changes.Count == 0)
            {
                if (loaded.WantedRunning && !running && next.Kind is UnitKind.Service or UnitKind.Socket && loaded.State != ActiveState.Failed)
                    plan.Add(new PlanAction(name, PlanActionKind.Repair, $"declared running but {StateNames.Name(loaded.State)}", []));
                continue;
            }
            var restartKeys = changes.Where(NeedsRestart).ToList();
            if (restartKeys.Count > 0 && running)
                plan.Add(new PlanAction(name, PlanActionKind.Restart,
                    $"{string.Join(", ", restartKeys.Select(c => c.Key))} changed and only takes effect in a new process", changes));
            else if (changes.Any(c => Effect(c) == ChangeEffect.ApplyLive))
                plan.Add(new PlanAction(name, PlanActionKind.ApplyLive, "resource limits changed", changes));
            else
                plan.Add(new PlanAction(name, PlanActionKind.Update, "settings used from the next start or stop", changes));
        }
        foreach (var name in (only?.Where(desired.BadUnits.ContainsKey) ?? desired.BadUnits.Keys).Order(StringComparer.Ordinal))
        {
            if (current.ContainsKey(name))
                plan.Add(new PlanAction(name, PlanActionKind.KeepBadSetting,
                    "unit file has errors; the running instance is left as it is", []));
        }
        foreach (var name in current.Keys.Order(StringComparer.Ordinal))
        {
            if (!desired.Units.ContainsKey(name) && !desired.BadUnits.ContainsKey(name))
                plan.Add(new PlanAction(name, PlanActionKind.Stop, "unit file removed", []));
        }
        return plan;
    }

    private static bool NeedsRestart(KeyChange c) => Effect(c) == ChangeEffect.Restart;

    /// <summary>The key table's column; every change comes from <see cref="Diff"/>, which walks the same table.</summary>
    private static ChangeEffect Effect(KeyChange c) => KeyTable.Find(c.Section, c.Key)!.OnChange;

    /// <summary>Every key whose effective value differs, in table order, rendered as TOML values.</summary>
    public static IReadOnlyList<KeyChange> Diff(UnitDefinition a, UnitDefinition b)
    {
        var changes = new List<KeyChange>();
        foreach (var key in KeyTable.All)
        {
            var x = Render(key.Get(a));
            var y = Render(key.Get(b));
            if (x != y) changes.Add(new KeyChange(key.Section, key.Name, x, y));
        }
        return changes;
    }

    private static string? Render(object? plain)
    {
        if (plain is null) return null;
        var sb = new System.Text.StringBuilder();
        UnitFormatter.WriteToml(sb, plain);
        return sb.ToString();
    }
}
