using Supervisor.Supervision.Notify;

namespace Supervisor.Supervision;

/// <summary>sd_notify messages into the machines, admitted by NotifyAccess (systemd.service(5)).</summary>
public sealed partial class UnitManager
{
    /// <summary>Messages held while the main pid is not known yet, per unit; more are dropped (a named limit).</summary>
    private const int MaxHeldNotifications = 16;

    /// <summary>At most one "dropped" line per unit in this long (systemd rate-limits its own the same way).</summary>
    private static readonly TimeSpan DropLogInterval = TimeSpan.FromSeconds(10);

    private void DeliverNotified(string unit, UnitEvent.Notified n)
    {
        if (!_units.TryGetValue(unit, out var entry) || entry.Machine is null)
        {
            n.FdStore?.Dispose();
            return;
        }
        var access = entry.Definition.Service.EffectiveNotifyAccess;
        var runtime = entry.Runtime;
        if (NotifyAccessRule.WaitForMainPid(access, runtime.MainPid, runtime.Sub, n.FromControl))
        {
            if (entry.HeldNotifications.Count < MaxHeldNotifications) entry.HeldNotifications.Add(n);
            else n.FdStore?.Dispose();
            return;
        }
        if (NotifyAccessRule.Refusal(access, n.SenderPid, runtime.MainPid, n.FromControl) is { } refusal)
        {
            LogDropped(unit, entry, refusal);
            n.FdStore?.Dispose();
            return;
        }
        foreach (var line in n.Lines) _host.Log(unit, line);
        if (n.FdStore is { } store) _host.StoreFds(entry.Definition, store);
        foreach (var e in n.Events) Deliver(unit, e);
    }

    /// <summary>After an event: messages that waited for the main pid are judged once it is known, or dropped when the start is over.</summary>
    private void ReleaseHeldNotifications(string unit, Entry entry)
    {
        if (entry.HeldNotifications.Count == 0) return;
        if (entry.Runtime.MainPid is null && entry.Runtime.Sub == SubState.Start) return;
        var held = entry.HeldNotifications.ToArray();
        entry.HeldNotifications.Clear();
        foreach (var n in held) DeliverNotified(unit, n);
    }

    private void LogDropped(string unit, Entry entry, string refusal)
    {
        long now = _clock.GetTimestamp();
        if (entry.NotifyDropLoggedAt is { } at && _clock.GetElapsedTime(at, now) < DropLogInterval)
        {
            entry.NotifyDropsSuppressed++;
            return;
        }
        string more = entry.NotifyDropsSuppressed > 0 ? $" ({entry.NotifyDropsSuppressed} more dropped since the last such line)" : "";
        entry.NotifyDropLoggedAt = now;
        entry.NotifyDropsSuppressed = 0;
        _host.Log(unit, refusal + "; ignored" + more);
    }
}
