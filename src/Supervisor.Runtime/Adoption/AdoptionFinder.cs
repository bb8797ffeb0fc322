using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Runtime.Planning;
using Supervisor.Supervision;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Adoption;

/// <summary>
/// The units a previous supervisor left running: remembered in the state file, the same process
/// (pid and start time) still alive, and still in the unit's cgroup; and the oneshots it left
/// active (exited), which are not run again. Anything else is started afresh.
/// </summary>
public static class AdoptionFinder
{
    public static Dictionary<string, Supervision.Adoption> Find(StateFile stateFile, UnitSet units, ICgroupDriver driver, ILogger logger)
    {
        var result = new Dictionary<string, Supervision.Adoption>(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var remembered = stateFile.Read(cause => logger.LogWarning(
            "{State} is damaged ({Cause}): no running service can be adopted; units whose processes are still running are stopped and started afresh",
            stateFile.Path, cause));
        foreach (var (name, memory) in remembered)
        {
            if (!units.Units.TryGetValue(name, out var parsed) || parsed.Definition.Kind != UnitKind.Service) continue;
            if (memory.MainPid == UnitMemory.NoProcess)
            {
                // Active (exited) before: it stays so, unless its file no longer says RemainAfterExit.
                if (parsed.Definition.Service is { Type: ServiceType.Oneshot, RemainAfterExit: true })
                    result[name] = new Supervision.Adoption(Supervision.Adoption.NoProcess, memory.Restarts, TimeSpan.FromMilliseconds(Math.Max(0, now - memory.ActiveSinceUnixMs)));
                continue;
            }
            var cgroup = driver.Open(UnitPlanner.CgroupPathOf(parsed.Definition));
            bool same = StateFile.StartTimeOf(memory.MainPid) == memory.ProcessStartTime;
            if (same && cgroup.Exists() && cgroup.GetProcs().Contains(memory.MainPid))
                result[name] = new Supervision.Adoption(memory.MainPid, memory.Restarts, TimeSpan.FromMilliseconds(Math.Max(0, now - memory.ActiveSinceUnixMs)));
            else
                logger.LogInformation("{Unit}: the process {Pid} remembered in {State} is gone or was replaced; starting the unit afresh",
                    name, memory.MainPid, stateFile.Path);
        }
        return result;
    }
}
