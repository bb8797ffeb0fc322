using Supervisor.Linux;
using System.Collections.Concurrent;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Tests.Support;

/// <summary>
/// A unit host that plays the kernel at once: every main process starts (as this test process,
/// so /proc has something real to read), every signal ends it, every control command succeeds.
/// A unit named in <see cref="NeverStarts"/> stays activating, like a service slow to come up.
/// </summary>
internal sealed class AutoHost(IUnitEventSink sink) : IUnitHost
{
    private readonly ConcurrentDictionary<string, bool> _running = new(StringComparer.Ordinal);

    public static int Pid => Environment.ProcessId;

    public ConcurrentBag<string> NeverStarts { get; } = [];

    /// <summary>What the manager wrote to the units' logs, as "unit: line".</summary>
    public ConcurrentQueue<string> Lines { get; } = new();

    public void SpawnMain(UnitDefinition unit, Command? command = null)
    {
        if (NeverStarts.Contains(unit.Name)) return;
        _running[unit.Name] = true;
        sink.Post(unit.Name, new UnitEvent.MainStarted(Pid));
    }

    public void SpawnControl(UnitDefinition unit, Phase phase, Command command, int? mainPid = null) => sink.Post(unit.Name, new UnitEvent.ControlExited(ExitInfo.Exited(0)));

    public void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid)
    {
        if (!_running.TryRemove(unit.Name, out _)) return;
        sink.Post(unit.Name, new UnitEvent.MainExited(ExitInfo.Killed(signo), false, Pid));
        sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
    }

    public void WatchCgroupEmpty(UnitDefinition unit)
    {
        if (!_running.ContainsKey(unit.Name)) sink.Post(unit.Name, new UnitEvent.CgroupEmpty());
    }

    public void FindMainPid(UnitDefinition unit) => sink.Post(unit.Name, new UnitEvent.MainPidChanged(Pid));
    public void ApplyResources(UnitDefinition unit) { }
    public void Log(string unit, string message) => Lines.Enqueue($"{unit}: {message}");
    public void Adopt(UnitDefinition unit, int mainPid) => _running[unit.Name] = true;
    public void Release(UnitDefinition unit) { }
    public void CheckConditions(UnitDefinition unit) =>
        sink.Post(unit.Name, new UnitEvent.ConditionsChecked(ConditionOutcome.None(false), ConditionOutcome.None(true)));
    public void WatchBusName(UnitDefinition unit) => sink.Post(unit.Name, new UnitEvent.Ready());
    /// <summary>What each unit's probes find ([Health]); a unit not named here passes.</summary>
    public ConcurrentDictionary<string, bool> ProbesPass { get; } = new(StringComparer.Ordinal);

    public void StoreFds(UnitDefinition unit, Supervisor.Supervision.Notify.FdStoreRequest request) => request.Dispose();
    public void RunProbe(UnitDefinition unit, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid)
    {
        bool ok = ProbesPass.GetValueOrDefault(unit.Name, true);
        sink.Post(unit.Name, new UnitEvent.ProbeResult(role, ok, ok ? "ok" : "HTTP 503", epoch));
    }
}
