using System.Globalization;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Reaping;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Launch;

/// <summary>
/// Type=forking: once the started parent has exited, the daemon's main process is the one its
/// PIDFile names, or the only process left in the unit's cgroup. It was reparented to us (we are a
/// child subreaper), so the reaper sees its exit.
/// </summary>
internal sealed class MainPidFinder(IUnitEventSink sink, Reaper reaper)
{
    public void Find(UnitSlot slot, UnitDefinition unit) => ThreadPool.UnsafeQueueUserWorkItem(_ =>
    {
        int? pid = unit.Service.PIDFile is { } pidFile ? ReadPidFile(pidFile) : null;
        if (pid is null && slot.Cgroup is { } cg && cg.GetProcs() is { Count: 1 } procs) pid = procs[0];
        if (pid is not { } main)
        {
            sink.Post(unit.Name, new UnitEvent.SetupFailed($"{unit.Name}: cannot find the daemon's main process (PIDFile {unit.Service.PIDFile ?? "not set"}, and the cgroup does not hold exactly one process)"));
            return;
        }
        sink.Post(unit.Name, new UnitEvent.MainPidChanged(main));
        reaper.Watch(main, exit => sink.Post(unit.Name, new UnitEvent.MainExited(exit, slot.OomKilledSinceStart, main)));
    }, null);

    /// <summary>The daemon writes it just before or after its parent exits: it gets five seconds.</summary>
    private static int? ReadPidFile(string path)
    {
        for (int i = 0; i < 50; i++)
        {
            try
            {
                if (int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 1) return p;
            }
            catch (IOException) { }
            Thread.Sleep(100);
        }
        return null;
    }
}
