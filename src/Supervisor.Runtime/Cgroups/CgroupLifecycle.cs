using Supervisor.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Planning;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// A unit's cgroup from its first start to its release: created with its slices and limits (or
/// kept across a restart when nothing changed), limits applied live, the limit files watched so a
/// write by hand is put back at once (the one drift repair), emptiness awaited, and removed when
/// the unit is down for good.
/// </summary>
internal sealed class CgroupLifecycle(ICgroupDriver driver, Action<string, string> log, CancellationToken stopping)
{
    /// <summary>Drift repaired (a limit file written by hand), for the metrics.</summary>
    public event Action<string, IReadOnlyList<LimitDrift>>? DriftRepaired;

    public ICgroup Open(CgroupPath path) => driver.Open(path);

    /// <summary>
    /// The cgroup the next process of the unit joins. Kept from the previous run when the plan's
    /// limits and slices are the same; otherwise made anew (leftover processes of a previous
    /// supervisor killed first when <paramref name="main"/>).
    /// </summary>
    public ICgroup Prepare(UnitSlot slot, UnitPlan plan, bool main)
    {
        if (slot.Cgroup is { } kept && kept.Path.Equals(plan.Cgroup) && Equals(slot.AppliedFrom, plan.Unit.Resources)
            && slot.SlicesFingerprint is { } was && was.SequenceEqual(plan.SliceDeclarations) && kept.Exists())
            return kept; // a restart with the same declaration: nothing to create or write
        if (slot.Cgroup is { } old && !old.Path.Equals(plan.Cgroup)) DestroyIfEmpty(slot.Name, old); // moved to another slice
        var cgroup = driver.Open(plan.Cgroup);
        if (main && cgroup.IsPopulated() && cgroup.GetProcs() is { Count: > 0 } leftovers)
        {
            // Processes of a previous supervisor that were not adopted (their unit file changed, or
            // their identity did not match the state file): a second copy beside them would fight
            // over ports and files, so they are stopped first.
            log(slot.Name, $"found {leftovers.Count} process(es) of a previous run in its cgroup ({string.Join(", ", leftovers)}); killing them before starting");
            cgroup.KillAllAsync(stopping).GetAwaiter().GetResult();
        }
        // Applied before written: a watch still on the files from the previous run must compare the
        // new values with these, not call them drift and put the old ones back.
        MarkApplied(slot, plan);
        CgroupTree.CreateUnit(driver, plan.Cgroup, plan.SliceLimits, plan.Limits);
        slot.Cgroup = cgroup;
        Watch(slot, cgroup, plan.Limits);
        return cgroup;
    }

    /// <summary>An adopted unit's cgroup, as the previous supervisor left it: watched from now on.</summary>
    public ICgroup Adopt(UnitSlot slot, UnitPlan plan)
    {
        var cgroup = driver.Open(plan.Cgroup);
        slot.Cgroup = cgroup;
        Applied(slot, cgroup, plan);
        return cgroup;
    }

    private void Applied(UnitSlot slot, ICgroup cgroup, UnitPlan plan)
    {
        // The new values count as applied before anything is written: the write raises the limit
        // watch, whose check must compare with them, not call them drift.
        MarkApplied(slot, plan);
        Watch(slot, cgroup, plan.Limits);
    }

    private static void MarkApplied(UnitSlot slot, UnitPlan plan)
    {
        slot.Applied = plan.Limits;
        slot.AppliedFrom = plan.Unit.Resources;
        slot.SlicesFingerprint = [.. plan.SliceDeclarations];
    }

    /// <summary>The plan's limits written to the running unit's cgroup, each change logged.</summary>
    public void ApplyLive(UnitSlot slot, UnitPlan plan)
    {
        var cgroup = slot.Cgroup ?? driver.Open(plan.Cgroup);
        if (!cgroup.Exists())
        {
            slot.Applied = plan.Limits;
            return;
        }
        try
        {
            var previous = slot.Applied;
            Applied(slot, cgroup, plan);
            foreach (var change in cgroup.Apply(plan.Limits, previous))
                log(slot.Name, $"applied live: {change.Key} {change.Old} → {change.New} ({change.File})");
        }
        catch (CgroupException e)
        {
            log(slot.Name, $"cannot apply resource limits live: {e.Message}");
        }
    }

    private void Watch(UnitSlot slot, ICgroup cgroup, ResourceLimits limits)
    {
        slot.LimitWatch?.Dispose();
        slot.LimitWatch = null;
        try
        {
            slot.LimitWatch = cgroup.WatchLimitWrites(limits, () => Repair(slot));
        }
        catch (CgroupException e)
        {
            log(slot.Name, $"cannot watch its limit files ({e.Message}); a limit changed by hand is put back at the next reconcile instead");
        }
    }

    /// <summary>
    /// Whatever no longer holds the value this host applied is put back. Compared with what was
    /// applied, not with the newest declaration: a reconcile about to apply a changed value live is
    /// not drift. Called when a limit file is written and by the verification sweep.
    /// </summary>
    public IReadOnlyList<LimitDrift> Repair(UnitSlot slot)
    {
        if (slot.Cgroup is not { } cgroup || slot.Applied is not { } applied) return [];
        try
        {
            if (!cgroup.Exists()) return [];
            var drift = cgroup.CheckDrift(applied);
            if (drift.Count == 0) return drift;
            cgroup.Repair(applied);
            foreach (var d in drift) log(slot.Name, $"drift repaired: {d.Key} was {d.Found} in {d.File}, declared {d.Declared}");
            DriftRepaired?.Invoke(slot.Name, drift);
            return drift;
        }
        catch (CgroupException e)
        {
            log(slot.Name, $"drift check failed: {e.Message}");
            return [];
        }
    }

    /// <summary>Calls <paramref name="empty"/> once no process is left in the cgroup (at once when none is).</summary>
    public void WhenEmpty(ICgroup cgroup, Action empty)
    {
        if (!cgroup.Exists())
        {
            empty();
            return;
        }
        var wait = cgroup.WaitForEmptyAsync(stopping);
        // Usually the main process was the last one and is reaped already: no hop through the pool.
        if (wait.IsCompletedSuccessfully) empty();
        else _ = wait.ContinueWith(t =>
        {
            if (!t.IsCanceled) empty();
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// The unit is down for good: the watches end and the cgroup goes once empty. Processes left on
    /// purpose (KillMode=process or none) keep it; the next start finds and deals with them.
    /// </summary>
    public void Release(UnitSlot slot)
    {
        slot.Oom?.Dispose();
        slot.Oom = null;
        slot.LimitWatch?.Dispose();
        slot.LimitWatch = null;
        if (slot.Cgroup is { } cgroup && DestroyIfEmpty(slot.Name, cgroup)) slot.Cgroup = null;
        slot.Applied = null;
        slot.AppliedFrom = null;
        slot.SlicesFingerprint = null;
    }

    private bool DestroyIfEmpty(string unit, ICgroup cgroup)
    {
        try
        {
            if (!cgroup.Exists()) return true;
            if (cgroup.GetProcs().Count > 0) return false;
            cgroup.Destroy();
            return true;
        }
        catch (CgroupException e)
        {
            log(unit, $"cannot remove cgroup: {e.Message}");
            return false;
        }
    }
}
