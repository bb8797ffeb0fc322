using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// What the manager adds for issue #15's start conditions: the start job's answer when a
/// condition skipped the start or an assert refused it, OnFailure/OnSuccess, and Type=idle.
/// </summary>
public sealed partial class UnitManager
{
    /// <summary>systemd delays an idle unit's main process at most this long for other jobs (DEFAULT_IDLE_TIMEOUT... 5 s).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A nudge: look at the jobs again (an idle unit's wait is over).</summary>
    private sealed record WakeWork : Work;

    /// <summary>
    /// A skipped start is done, as in systemd (systemctl start returns 0, the unit stays
    /// inactive); a refused assertion fails the job ("Assertion failed on job for …").
    /// </summary>
    private static JobOutcome? ConditionOutcomeOf(Job job, UnitRuntime r) =>
        r.Skipped ? new JobOutcome(JobResult.Done, $"unit '{job.Unit}' was skipped: {r.ConditionResult?.Describe()}")
        : r.AssertFailed ? new JobOutcome(JobResult.Failed, r.FailureReason)
        : null;

    /// <summary>
    /// systemd 252's unit_notify: entering failed starts the OnFailure units (an automatic
    /// restart never enters failed); entering inactive from active, activating or deactivating
    /// starts the OnSuccess units. A start skipped by a Condition* or refused by an Assert* never
    /// left inactive in systemd, so it triggers neither.
    /// </summary>
    private void TriggerOnFailureOrSuccess(string unit, Entry entry, UnitRuntime before)
    {
        var now = entry.Runtime;
        if (entry.Machine is null) return;
        var declared = entry.Definition.Unit;
        if (now.Sub == SubState.Failed && before.Sub != SubState.Failed)
            StartTriggered(unit, "OnFailure", declared.OnFailure);
        bool checkOnly = before.Sub == SubState.Condition && before.ControlPhase is null;
        if (now.Active == ActiveState.Inactive && before.Active is not (ActiveState.Inactive or ActiveState.Failed) && !checkOnly)
            StartTriggered(unit, "OnSuccess", declared.OnSuccess);
    }

    private void StartTriggered(string unit, string key, IReadOnlyList<string> targets)
    {
        foreach (var target in targets)
        {
            if (!_units.TryGetValue(target, out var te) || te.Machine is null || te.Bad)
            {
                _host.Log(unit, $"{key}: unit '{target}' cannot be started (not loaded, or not a service)");
                continue;
            }
            _host.Log(unit, $"{key}: starting '{target}'");
            foreach (var u in _graph.StartClosure([target]))
                EnqueueStart(u, null);
        }
    }

    /// <summary>
    /// Type=idle: the main process waits while another unit is starting (a start job not yet
    /// finished, or a unit activating), at most <see cref="IdleTimeout"/>; other idle units do not count.
    /// </summary>
    private bool IdleMustWait(Job job)
    {
        if (!IsIdle(job.Unit)) return false;
        if (_clock.GetElapsedTime(job.Created) >= IdleTimeout) return false;
        bool busy = _jobs.Any(j => j != job && j.IsStart && !IsIdle(j.Unit))
            || _units.Any(kv => kv.Key != job.Unit && !IsIdle(kv.Key) && kv.Value.Runtime.Active == ActiveState.Activating && kv.Value.Runtime.Sub != SubState.AutoRestart);
        if (busy && job.IdleWake is null)
        {
            var left = IdleTimeout - _clock.GetElapsedTime(job.Created);
            job.IdleWake = _clock.CreateTimer(_ => _queue.Writer.TryWrite(new WakeWork()), null, left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
        return busy;
    }

    private bool IsIdle(string unit) =>
        _units.TryGetValue(unit, out var e) && e.Definition is { Kind: UnitKind.Service, Service.Type: ServiceType.Idle };
}
