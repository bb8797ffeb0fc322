using Supervisor.Runtime.Launch;
using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Notify;
using Supervisor.Runtime.Output;
using Supervisor.Runtime.Planning;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision;

namespace Supervisor.Runtime.Adoption;

/// <summary>
/// Takes over a main process a previous supervisor left running: its cgroup watched again, its
/// notify socket bound again at the same path, its output read again from the holder, and its
/// exit seen through a pidfd (it is not our child, so its exit status cannot be known).
/// </summary>
internal sealed class Adopter(IUnitEventSink sink, CgroupLifecycle cgroups, NotifyEndpoints notify, OutputKeeper output,
    Action<string, string> log, CancellationToken stopping)
{
    public void Adopt(UnitSlot slot, UnitPlan plan, int mainPid)
    {
        Interlocked.Increment(ref slot.Generation);
        var cgroup = cgroups.Adopt(slot, plan);
        slot.Oom ??= cgroup.WatchOomKills();
        slot.OomAtStart = slot.Oom.Count;
        if (plan.NotifySocket is { } socket) notify.Open(slot, socket, cgroup);
        try
        {
            var process = ForeignProcess.Open(mainPid);
            slot.Adopted = process;
            process.OnExit(() => sink.Post(slot.Name, new UnitEvent.MainExited(ExitInfo.Unknown, slot.OomKilledSinceStart, mainPid)));
            bool captured = output.Recapture(slot, StdioSetup.IdentifierOf(plan), plan.Unit.Service.SyslogLevelPrefix, stopping);
            log(slot.Name, $"adopted main process {mainPid} left running by a previous supervisor (its exit status will not be known; " +
                (captured ? "its output is captured again, including what it wrote meanwhile)" : "its output is not captured until it restarts: there was no fd holder)"));
        }
        catch (IOException e)
        {
            log(slot.Name, $"cannot adopt process {mainPid}: {e.Message}");
            sink.Post(slot.Name, new UnitEvent.MainExited(ExitInfo.Unknown, false, mainPid));
        }
    }
}
