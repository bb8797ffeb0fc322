namespace Supervisor.Supervision;

/// <summary>
/// StopWhenUnneeded: a unit that declares it is stopped as soon as no unit that needs it
/// (Requires, Wants, BindsTo, Requisite) is active, starting or about to start, as systemd's
/// unit_check_unneeded. Checked when such a unit comes up, and when a unit that needs something
/// goes down; a unit in transition or with a job pending is left to finish first.
/// </summary>
public sealed partial class UnitManager
{
    private void CheckUnneeded(string unit, Entry entry, UnitRuntime before)
    {
        bool cameUp = entry.Runtime.Active is ActiveState.Active && before.Active is not ActiveState.Active;
        if (cameUp)
            StopIfUnneeded(unit);
        bool wentDown = entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed or ActiveState.Deactivating
            && before.Active is ActiveState.Active or ActiveState.Activating or ActiveState.Reloading;
        if (wentDown)
            foreach (var needed in _graph.Needs(unit))
                StopIfUnneeded(needed);
    }

    private void StopIfUnneeded(string unit)
    {
        if (!_units.TryGetValue(unit, out var entry) || !entry.Definition.Unit.StopWhenUnneeded || !Manages(entry)) return;
        if (entry.Runtime.Active is not (ActiveState.Active or ActiveState.Reloading) || _jobs.Any(j => j.Unit == unit)) return;
        bool needed = _graph.NeededBy(unit).Any(n => _jobs.Any(j => j.Unit == n && j.IsStart)
            || (_units.TryGetValue(n, out var e) && e.Runtime.Active is ActiveState.Active or ActiveState.Activating or ActiveState.Reloading));
        if (needed) return;
        _host.Log(unit, "stopping: no active unit needs it any more (StopWhenUnneeded)");
        EnqueueStop(unit, null);
    }

    /// <summary>Whether the units directory starts <paramref name="unit"/> by itself: not one with StopWhenUnneeded that nothing in the set needs.</summary>
    private bool StartsOnItsOwn(string unit) =>
        !_units.TryGetValue(unit, out var entry) || !entry.Definition.Unit.StopWhenUnneeded || _graph.NeededBy(unit).Any();
}
