using System.Collections.Immutable;
using System.Threading.Channels;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>The manager's jobs: requests queued per unit, dispatched one at a time per unit, answered when the unit gets where the job asked (or cannot).</summary>
public sealed partial class UnitManager
{
    // ── requests and jobs ────────────────────────────────────────────────────────────────────

    private void HandleRequest(RequestWork rw)
    {
        if (!_units.TryGetValue(rw.Unit, out var entry))
        {
            var hint = Supervisor.Units.Values.Suggest.Hint(rw.Unit, _units.Keys);
            rw.Done.TrySetResult(new JobOutcome(JobResult.Rejected, $"unit '{rw.Unit}' is not loaded" + (hint is null ? "" : $"; {hint}")));
            return;
        }
        // A file never valid has no machine: it is not a slice, whatever is asked of it.
        if (entry.Bad && (rw.Kind is JobKind.Start or JobKind.Restart || entry.Machine is null))
        {
            rw.Done.TrySetResult(new JobOutcome(JobResult.Rejected,
                $"unit '{rw.Unit}' has errors in its unit file (bad-setting): {string.Join("; ", entry.Diagnostics.Where(d => d.Severity == Severity.Error).Select(d => d.ToString()))}"));
            return;
        }
        if (!Manages(entry))
        {
            rw.Done.TrySetResult(new JobOutcome(JobResult.Rejected, $"'{rw.Unit}' is a slice; slices have no processes to {rw.Kind.ToString().ToLowerInvariant()}"));
            return;
        }
        if (entry.Machine is null && rw.Kind is JobKind.Reload)
        {
            rw.Done.TrySetResult(new JobOutcome(JobResult.Rejected, $"'{rw.Unit}' is a target; a target runs nothing that could reload"));
            return;
        }
        switch (rw.Kind)
        {
            case JobKind.Start:
                foreach (var conflict in _graph.Conflicting(rw.Unit)) EnqueueStop(conflict, null);
                foreach (var u in _graph.StartClosure([rw.Unit]))
                    EnqueueStart(u, u == rw.Unit ? rw.Done : null);
                break;
            case JobKind.Stop:
                EnqueueStop(rw.Unit, rw.Done);
                foreach (var u in _graph.StopPropagation(rw.Unit, requested: true)) EnqueueStop(u, null);
                break;
            case JobKind.Restart:
                if (entry.Runtime.Active is ActiveState.Inactive or ActiveState.Failed)
                {
                    EnqueueStart(rw.Unit, rw.Done);
                    break;
                }
                Deliver(rw.Unit, new UnitEvent.Restart());
                var job = new Job(rw.Unit, isStart: true, rw.Done) { Dispatched = true };
                _jobs.Add(job);
                foreach (var u in _graph.RestartPropagation(rw.Unit))
                    if (_units.TryGetValue(u, out var pe) && pe.Runtime.Active is ActiveState.Active) Deliver(u, new UnitEvent.Restart());
                break;
            case JobKind.Reload:
                var reloaded = Reload(rw.Unit, entry.Machine!, entry.Runtime);
                if (reloaded.Result == JobResult.Done) PropagateReload(rw.Unit);
                rw.Done.TrySetResult(reloaded);
                break;
            case JobKind.ResetFailed:
                Deliver(rw.Unit, new UnitEvent.ResetFailed());
                rw.Done.TrySetResult(new JobOutcome(JobResult.Done));
                break;
        }
    }

    /// <summary>A reload the machine refuses in this state is answered with its reason, not queued.</summary>
    private JobOutcome Reload(string unit, UnitMachine machine, UnitRuntime runtime)
    {
        var reject = machine.Handle(runtime, new UnitEvent.Reload()).Actions.OfType<UnitAction.Reject>().FirstOrDefault();
        if (reject is not null) return new JobOutcome(JobResult.Rejected, reject.Reason);
        Deliver(unit, new UnitEvent.Reload());
        return new JobOutcome(JobResult.Done);
    }

    /// <summary>
    /// PropagatesReloadTo/ReloadPropagatedFrom: systemd's try-reload, so a unit that is not
    /// running is left alone and one that cannot reload now is logged and skipped.
    /// </summary>
    private void PropagateReload(string unit)
    {
        foreach (var u in _graph.ReloadPropagation(unit))
        {
            if (!_units.TryGetValue(u, out var e) || e.Machine is null || e.Runtime.Active is not ActiveState.Active) continue;
            var outcome = Reload(u, e.Machine, e.Runtime);
            _host.Log(u, outcome.Result == JobResult.Done ? $"reloading: propagated from '{unit}'" : $"reload propagated from '{unit}' skipped: {outcome.Message}");
        }
    }

    private void EnqueueStart(string unit, TaskCompletionSource<JobOutcome>? done)
    {
        var existing = _jobs.FirstOrDefault(j => j.Unit == unit && j.IsStart);
        if (existing is not null)
        {
            if (done is not null) existing.Waiters.Add(done);
            return;
        }
        _jobs.RemoveAll(j => j.Unit == unit && !j.IsStart && !j.Dispatched);
        _jobs.Add(new Job(unit, isStart: true, done) { Created = _clock.GetTimestamp() });
    }

    private void EnqueueStop(string unit, TaskCompletionSource<JobOutcome>? done)
    {
        if (!_units.TryGetValue(unit, out var entry) || !Manages(entry)) { done?.TrySetResult(new JobOutcome(JobResult.Done)); return; }
        var existing = _jobs.FirstOrDefault(j => j.Unit == unit && !j.IsStart);
        if (existing is not null)
        {
            if (done is not null) existing.Waiters.Add(done);
            return;
        }
        // A stop replaces a start that has not begun; one that has begun is stopped.
        foreach (var j in _jobs.Where(j => j.Unit == unit && j.IsStart).ToList())
        {
            _jobs.Remove(j);
            foreach (var w in j.Waiters) w.TrySetResult(new JobOutcome(JobResult.Canceled, "a stop was requested"));
        }
        _jobs.Add(new Job(unit, isStart: false, done));
    }

    /// <summary>Runs every job whose ordering allows it, and completes jobs whose unit got where it was going.</summary>
    private void Dispatch()
    {
        bool progress = true;
        while (progress)
        {
            progress = false;
            foreach (var job in _jobs.ToList())
            {
                if (!_units.TryGetValue(job.Unit, out var entry) || !Manages(entry))
                {
                    Complete(job, new JobOutcome(JobResult.Canceled, "unit was removed"));
                    progress = true;
                    continue;
                }
                if (job.Dispatched)
                {
                    if (TryFinish(job, entry)) progress = true;
                    continue;
                }
                if (job.IsStart ? CanStart(job.Unit, job) : CanStop(job.Unit))
                {
                    progress = true;
                    if (job.IsStart) DispatchStart(job, entry);
                    else DispatchStop(job, entry);
                }
            }
        }
    }

    private bool CanStart(string unit, Job job)
    {
        if (IdleMustWait(job)) return false;
        foreach (var before in _graph.OrderedAfter(unit))
        {
            if (_jobs.Any(j => j.Unit == before)) return false;
            if (_units.TryGetValue(before, out var e) && e.Runtime.Active is ActiveState.Activating or ActiveState.Deactivating) return false;
        }
        // A requisite that is on its way up is waited for (systemd's verify job waits on "activating").
        if (_graph.Requisites(unit).Any(r => _jobs.Any(j => j.Unit == r && j.IsStart) || (_units.TryGetValue(r, out var re) && re.Runtime.Active is ActiveState.Activating)))
            return false;
        // Conflicting units must be down first.
        return !_graph.Conflicting(unit).Any(c => _jobs.Any(j => j.Unit == c && !j.IsStart));
    }

    private bool CanStop(string unit) =>
        // Stop in reverse order: what was started after this unit stops before it.
        !_units.Keys.Any(other => _graph.OrderedAfter(other).Contains(unit) && _jobs.Any(j => j.Unit == other && !j.IsStart));

    private void DispatchStart(Job job, Entry entry)
    {
        var failedDep = _graph.HardDependencies(job.Unit)
            .FirstOrDefault(d => _units.TryGetValue(d, out var de) && (de.Bad || de.Runtime.Sub is SubState.Failed || (de.Runtime.Sub is SubState.Dead && !de.Runtime.Skipped && _graph.OrderedAfter(job.Unit).Contains(d))));
        if (failedDep is not null)
        {
            _host.Log(job.Unit, $"not started: dependency '{failedDep}' failed");
            Complete(job, new JobOutcome(JobResult.Dependency, $"dependency '{failedDep}' failed to start"));
            return;
        }
        var down = _graph.Requisites(job.Unit).FirstOrDefault(r => _units[r].Runtime.Active is not (ActiveState.Active or ActiveState.Reloading));
        if (down is not null)
        {
            _host.Log(job.Unit, $"not started: requisite '{down}' is not active (Requisite never starts it)");
            Complete(job, new JobOutcome(JobResult.Dependency, $"requisite '{down}' is not active; start it first (Requisite does not start it)"));
            return;
        }
        if (entry.Runtime.Active is ActiveState.Active or ActiveState.Reloading)
        {
            Complete(job, new JobOutcome(JobResult.Done));
            return;
        }
        job.Dispatched = true;
        Deliver(job.Unit, new UnitEvent.Start());
        TryFinish(job, entry);
    }

    private void DispatchStop(Job job, Entry entry)
    {
        job.Dispatched = true;
        Deliver(job.Unit, new UnitEvent.Stop());
        TryFinish(job, entry);
    }

    private bool TryFinish(Job job, Entry entry)
    {
        var r = entry.Runtime;
        if (job.IsStart)
        {
            if (r.Active is ActiveState.Active or ActiveState.Reloading) return Complete(job, new JobOutcome(JobResult.Done));
            if (ConditionOutcomeOf(job, r) is { } checkedOutcome) return Complete(job, checkedOutcome);
            // Ran and ended well before anyone looked (a oneshot without RemainAfterExit, a quick
            // simple service): systemd's start job is done, `systemctl start` exits 0.
            if (r.Sub is SubState.Dead && r.Result == UnitResult.Success && !r.StopRequested && r.LastExit is not null)
                return Complete(job, new JobOutcome(JobResult.Done));
            if (r.Sub is SubState.Failed or SubState.Dead or SubState.AutoRestart)
                return Complete(job, new JobOutcome(JobResult.Failed,
                    $"unit '{job.Unit}' failed to start (result '{StateNames.Name(r.Result)}'){(r.FailureReason is { } why ? ": " + why : "")}"));
            return false;
        }
        if (r.Active is ActiveState.Inactive or ActiveState.Failed) return Complete(job, new JobOutcome(JobResult.Done));
        return false;
    }

    private bool Complete(Job job, JobOutcome outcome)
    {
        _jobs.Remove(job);
        job.IdleWake?.Dispose();
        _jobsInBurst++;
        if (_jobs.Count == 0)
        {
            var burst = _jobsInBurst;
            _jobsInBurst = 0;
            JobsDrained?.Invoke(burst);
        }
        foreach (var w in job.Waiters) w.TrySetResult(outcome);
        // Came up with its own start job still open: now that the job is done, is it needed?
        if (job.IsStart && outcome.Result == JobResult.Done) StopIfUnneeded(job.Unit);
        ForgetTransientIfDown(job.Unit);
        return true;
    }

    private void StopAll(TaskCompletionSource<JobOutcome> done)
    {
        var active = _units.Where(kv => Manages(kv.Value) && kv.Value.Runtime.Active is not (ActiveState.Inactive or ActiveState.Failed)).Select(kv => kv.Key).ToList();
        if (active.Count == 0) { done.TrySetResult(new JobOutcome(JobResult.Done)); return; }
        var waiters = active.Select(u =>
        {
            var tcs = new TaskCompletionSource<JobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            EnqueueStop(u, tcs);
            return tcs.Task;
        }).ToArray();
        Task.WhenAll(waiters).ContinueWith(_ => done.TrySetResult(new JobOutcome(JobResult.Done)), TaskScheduler.Default);
    }
}
