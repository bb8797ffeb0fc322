using Supervisor.Runtime.Adoption;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>
/// The state file and a supervisor killed right after it answered "started": the unit must be in
/// the file by then, not only after the coalesced write (~100 ms later), or the next supervisor
/// kills the process as a stranger instead of adopting it.
/// </summary>
public sealed class StateWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed class NoHost : IUnitHost
    {
        public void SpawnMain(UnitDefinition unit, Command? command = null) { }
        public void SpawnControl(UnitDefinition unit, Phase phase, Command command, int? mainPid = null) { }
        public void Signal(UnitDefinition unit, SignalTarget target, int signo, int? mainPid) { }
        public void WatchCgroupEmpty(UnitDefinition unit) { }
        public void FindMainPid(UnitDefinition unit) { }
        public void CheckConditions(UnitDefinition unit) { }
        public void WatchBusName(UnitDefinition unit) { }
        public void StoreFds(UnitDefinition unit, Supervisor.Supervision.Notify.FdStoreRequest request) => request.Dispose();
        public void RunProbe(UnitDefinition unit, ProbeRole role, ProbeSpec probe, int epoch, int? mainPid) { }
        public void ApplyResources(UnitDefinition unit) { }
        public void Log(string unit, string message) { }
        public void Adopt(UnitDefinition unit, int mainPid) { }
        public void Release(UnitDefinition unit) { }
    }

    [Fact]
    public void A_unit_that_became_active_is_in_the_state_file_before_its_start_is_answered()
    {
        _dir.Write("units/svc.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        var manager = new UnitManager(TimeProvider.System, _ => new NoHost());
        var file = new StateFile(Path.Combine(_dir.Dir, "state"));
        using var writer = new StateWriter(manager, file, Wait.NullLogger);
        var first = Supervisor.Linux.Files.Statx.Identity(file.Path);
        manager.ReconcileAsync(Supervisor.Units.UnitLoader.LoadDirectory(Path.Combine(_dir.Dir, "units")), startNew: true);
        manager.RunPending();
        // Let the coalesced write of "activating" happen (each write renames a new file into place),
        // so that nothing but the write at activation can put the unit in the file below.
        Wait.Until(() => Supervisor.Linux.Files.Statx.Identity(file.Path) != first, "the coalesced write after the start began");
        // This test process plays the service: a live pid with a start time.
        manager.Post("svc", new UnitEvent.MainStarted(Environment.ProcessId));
        manager.RunPending();
        Assert.Equal(ActiveState.Active, manager.Units["svc"].Active);
        // No waiting: what a supervisor killed now would leave behind.
        var remembered = Assert.Single(file.Read());
        Assert.Equal(("svc", Environment.ProcessId), (remembered.Key, remembered.Value.MainPid));
    }
}
