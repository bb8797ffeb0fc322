using Supervisor.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Supervision;
using Supervisor.Supervision.Notify;

namespace Supervisor.Runtime.Notify;

/// <summary>
/// The per-unit sd_notify sockets: bound before the main process starts (at the path its plan
/// gives it as $NOTIFY_SOCKET), kept across restarts, closed when the unit is down for good. Only
/// processes of the unit's own cgroup are believed (systemd's NotifyAccess=all, scoped by cgroup);
/// what they say becomes the manager's events.
/// </summary>
internal sealed class NotifyEndpoints(IUnitEventSink sink, Action<string, string> log, CancellationToken stopping)
{
    public void Open(UnitSlot slot, string path, ICgroup cgroup)
    {
        if (slot.Notify is not null) return;
        var socket = new NotifySocket(path);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        slot.Notify = socket;
        slot.NotifyStop = stop;
        var unit = slot.Name;
        _ = socket.RunAsync(
            pid => InCgroup(pid, cgroup),
            (m, _) => Deliver(unit, m),
            rejected => log(unit, rejected),
            stop.Token);
    }

    public static void Close(UnitSlot slot)
    {
        slot.NotifyStop?.Cancel();
        slot.Notify?.Dispose();
        slot.Notify = null;
        slot.NotifyStop = null;
    }

    private static bool InCgroup(int pid, ICgroup cgroup)
    {
        try
        {
            return cgroup.GetProcs().Contains(pid);
        }
        catch (CgroupException)
        {
            return false;
        }
    }

    private void Deliver(string unit, NotifyMessage m)
    {
        if (m.MainPid is { } pid) sink.Post(unit, new UnitEvent.MainPidChanged(pid));
        if (m.Ready) sink.Post(unit, new UnitEvent.Ready());
        if (m.Watchdog) sink.Post(unit, new UnitEvent.WatchdogPing());
        if (m.WatchdogTrigger) sink.Post(unit, new UnitEvent.WatchdogTrigger());
        if (m.ExtendTimeoutUsec is { } ext) sink.Post(unit, new UnitEvent.ExtendTimeout(TimeSpan.FromMicroseconds(ext)));
        if (m.Status is { } status) log(unit, $"status: {status}");
        if (m.Stopping) log(unit, "service says it is stopping");
        if (m.Errno is { } errno) log(unit, $"service reports errno {errno}");
    }
}
