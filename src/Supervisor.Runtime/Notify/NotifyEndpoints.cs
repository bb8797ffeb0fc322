using System.Collections.Concurrent;
using Supervisor.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Supervision;
using Supervisor.Supervision.Notify;

namespace Supervisor.Runtime.Notify;

/// <summary>
/// The per-unit sd_notify sockets: bound before the main process starts (at the path its plan
/// gives it as $NOTIFY_SOCKET), kept across restarts, closed when the unit is down for good. Only
/// processes of the unit's own cgroup are heard; what they say goes to the manager with the
/// sender's pid, where NotifyAccess decides whether it is believed.
/// </summary>
internal sealed class NotifyEndpoints(IUnitEventSink sink, Action<string, string> log, CancellationToken stopping)
{
    /// <summary>What each unit's socket received since its main process last started, for the start-timeout message.</summary>
    private readonly ConcurrentDictionary<string, Traffic> _traffic = new(StringComparer.Ordinal);

    private sealed class Traffic
    {
        public int Accepted;
        public int Rejected;
        public string? LastRejection;
    }

    /// <summary>Before each start of the main process: the socket (kept across restarts), and a fresh count of what arrives.</summary>
    public void Open(UnitSlot slot, string path, ICgroup cgroup)
    {
        _traffic[slot.Name] = new Traffic();
        if (slot.Notify is not null) return;
        var socket = new NotifySocket(path);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        slot.Notify = socket;
        slot.NotifyStop = stop;
        var unit = slot.Name;
        _ = socket.RunAsync(
            pid => InCgroup(pid, cgroup),
            (m, pid, store) => Deliver(slot, m, pid, store),
            rejected =>
            {
                if (_traffic.TryGetValue(unit, out var t))
                {
                    Interlocked.Increment(ref t.Rejected);
                    t.LastRejection = rejected;
                }
                log(unit, rejected);
            },
            stop.Token);
    }

    /// <summary>
    /// Names the unit's notify socket where a message of the state machine says
    /// <see cref="NotifySocket.PathToken"/> (the start timeout of a Type=notify unit), with what
    /// reached it: nothing at all is the mark of a service that cannot reach the socket.
    /// </summary>
    public string Explain(UnitSlot slot, string message)
    {
        if (!message.Contains(NotifySocket.PathToken, StringComparison.Ordinal)) return message;
        var path = slot.Notify?.Path ?? slot.MainPlan?.NotifySocket;
        if (path is null) return message;
        var t = _traffic.GetValueOrDefault(slot.Name) ?? new Traffic();
        string seen = (t.Accepted, t.Rejected) switch
        {
            (0, 0) => "nothing arrived on it; a service that cannot reach it reports sd_notify errors such as -2 (ENOENT) or -13 (EACCES)",
            (_, 0) => $"{t.Accepted} message(s) arrived, none with READY=1",
            _ => $"{t.Accepted} message(s) arrived without READY=1, {t.Rejected} ignored (the last: {t.LastRejection})",
        };
        return message.Replace(NotifySocket.PathToken, $"'{path}' (the service's $NOTIFY_SOCKET; {seen})", StringComparison.Ordinal);
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

    /// <summary>The message as one event with its sender: the manager admits it or not by NotifyAccess.</summary>
    private void Deliver(UnitSlot slot, NotifyMessage m, int sender, FdStoreRequest? store)
    {
        if (_traffic.TryGetValue(slot.Name, out var t)) Interlocked.Increment(ref t.Accepted);
        var events = new List<UnitEvent>();
        if (m.MainPid is { } pid) events.Add(new UnitEvent.MainPidChanged(pid));
        if (m.Ready) events.Add(new UnitEvent.Ready());
        if (m.Watchdog) events.Add(new UnitEvent.WatchdogPing());
        if (m.WatchdogTrigger) events.Add(new UnitEvent.WatchdogTrigger());
        if (m.ExtendTimeoutUsec is { } ext) events.Add(new UnitEvent.ExtendTimeout(TimeSpan.FromMicroseconds(ext)));
        var lines = new List<string>();
        if (m.Status is { } status) lines.Add($"status: {status}");
        if (m.Stopping) lines.Add("service says it is stopping");
        if (m.Errno is { } errno) lines.Add($"service reports errno {errno}");
        if (events.Count == 0 && lines.Count == 0 && store is null) return;
        sink.Post(slot.Name, new UnitEvent.Notified(sender, sender == Volatile.Read(ref slot.ControlPid), events, lines, store));
    }
}
