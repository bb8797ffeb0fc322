using Supervisor.Units.Model;

namespace Supervisor.Supervision;

// Targets: units with no process and no machine (systemd.target(5)). Starting one makes it
// active at once (what it Wants/Requires is pulled into the same start by the dependency graph,
// and ordered before it); stopping it makes it inactive, and the graph stops what Requires,
// BindsTo or is PartOf it.
public sealed partial class UnitManager
{
    private static bool IsTarget(Entry entry) => entry.Definition.Kind == UnitKind.Target && !entry.Bad;

    /// <summary>The manager starts and stops it: a service (with its machine) or a target. Not a slice, not a file never valid.</summary>
    private static bool Manages(Entry entry) => entry.Machine is not null || IsTarget(entry);

    private void DeliverToTarget(string unit, Entry entry, UnitEvent e)
    {
        var before = entry.Runtime;
        entry.Runtime = e switch
        {
            UnitEvent.Start or UnitEvent.Restart when before.Active is not ActiveState.Active =>
                new UnitRuntime { Sub = SubState.Active, ActiveSince = _clock.GetTimestamp() },
            UnitEvent.Stop => new UnitRuntime { Sub = SubState.Dead, StopRequested = true },
            _ => before,
        };
        if (!Equals(before, entry.Runtime))
            OnChanged(unit, entry, before);
    }
}
