using System.Collections.Concurrent;
using System.Diagnostics;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Planning;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Health;

/// <summary>
/// Runs one probe when the unit's state machine asks (its timers say when; it counts the results
/// against the thresholds). A run still going when the next is due is not doubled: the due run is
/// skipped, and the one going reports. The result goes back as <see cref="UnitEvent.ProbeResult"/>;
/// every run's duration and verdict go to <see cref="Ran"/> (the metrics' histogram).
/// </summary>
internal sealed class ProbeRunner(IUnitEventSink sink, ExecProbe exec, CancellationToken stopping)
{
    private readonly ConcurrentDictionary<(string Unit, ProbeRole Role), bool> _running = new();

    /// <summary>A probe run ended: unit, probe, success, seconds it took.</summary>
    public event Action<string, ProbeRole, bool, double>? Ran;

    /// <param name="plan">The plan the unit's exec probe runs from (the running main process's, so the same sandbox).</param>
    /// <param name="ownNetwork">The unit has its own network namespace (http and tcp probes connect only from inside it).</param>
    public void Run(UnitSlot slot, Func<UnitPlan> plan, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid, bool ownNetwork)
    {
        var key = (slot.Name, role);
        if (!_running.TryAdd(key, true)) return;
        _ = Task.Run(async () =>
        {
            var watch = Stopwatch.StartNew();
            (bool Ok, string Detail) result;
            try
            {
                var timeout = probe.Timeout.ToTimeSpan();
                result = probe.Check == ProbeCheck.Exec
                    ? await exec.RunAsync(slot, plan(), probe.Command!, mainPid, timeout, stopping).ConfigureAwait(false)
                    : await NetworkProbe.RunAsync(probe, mainPid, ownNetwork, timeout, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return; // the supervisor is shutting down
            }
            // The probe could not be started (its plan, the helper, the cgroup, too many fds):
            // that is the probe failing, said in its words (the machine logs it, bounded), not the service.
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                result = (false, ProbeOutput.Bound("could not run: " + e.Message));
            }
            finally
            {
                _running.TryRemove(key, out _);
            }
            Ran?.Invoke(slot.Name, role, result.Ok, watch.Elapsed.TotalSeconds);
            sink.Post(slot.Name, new UnitEvent.ProbeResult(role, result.Ok, ProbeOutput.Bound(result.Detail), epoch));
        }, CancellationToken.None);
    }
}
