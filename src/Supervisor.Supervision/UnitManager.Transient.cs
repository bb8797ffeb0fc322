using Supervisor.Units.Model;

namespace Supervisor.Supervision;

// Transient units: made at run time from a definition the caller built (an instance per
// connection of an Accept=yes socket unit), as systemd's transient units. They have a machine and
// dependencies like any unit, never restart by policy (the caller gives Restart=no), are not
// stopped by a reconcile (no file declares them) and are forgotten once down.
public sealed partial class UnitManager
{
    /// <summary>
    /// Adds <paramref name="unit"/> as a transient unit and starts it; the outcome is its start
    /// job's. Rejected when a unit of that name exists already.
    /// </summary>
    public Task<JobOutcome> StartTransientAsync(UnitDefinition unit)
    {
        var done = new TaskCompletionSource<JobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Writer.TryWrite(new TransientWork(unit, done));
        return done.Task;
    }

    private void StartTransient(UnitDefinition unit, TaskCompletionSource<JobOutcome> done)
    {
        if (_units.ContainsKey(unit.Name))
        {
            done.TrySetResult(new JobOutcome(JobResult.Rejected, $"unit '{unit.Name}' exists already"));
            return;
        }
        // Removing: forgotten as soon as it is inactive or failed (UnitManager.OnChanged).
        var entry = new Entry(unit) { Transient = true, Removing = true, Machine = new UnitMachine(unit, _clock) };
        _units[unit.Name] = entry;
        RebuildGraph();
        Publish(unit.Name, entry);
        UnitSetChanged?.Invoke();
        HandleRequest(new RequestWork(unit.Name, JobKind.Start, done));
    }

    /// <summary>A transient unit whose start never got it going (a dependency failed) is down without a change of state: forgotten here.</summary>
    private void ForgetTransientIfDown(string unit)
    {
        if (_units.TryGetValue(unit, out var entry) && entry.Transient && entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed
            && !_jobs.Any(j => j.Unit == unit))
            Remove(unit, entry);
    }
}
