using Supervisor.Units.Model;

namespace Supervisor.Supervision.Notify;

/// <summary>
/// NotifyAccess= as systemd's service_notify_message_authorized() applies it: who may speak for
/// the unit. The cgroup check (a sender outside the unit's cgroup is never believed) is made
/// before, where the message is read; this is the rest, with systemd's own log wording.
/// </summary>
public static class NotifyAccessRule
{
    /// <summary>Why the message is refused, or null when it is admitted.</summary>
    /// <param name="mainPid">The main process as the machine knows it (host pid), null when not known yet.</param>
    /// <param name="fromControl">The sender is the unit's running control command (ExecStartPre, ExecReload …).</param>
    public static string? Refusal(NotifyAccess access, int sender, int? mainPid, bool fromControl) => access switch
    {
        NotifyAccess.None => $"Got notification message from PID {sender}, but reception is disabled (NotifyAccess=none)",
        NotifyAccess.Main when sender != mainPid => mainPid is { } main
            ? $"Got notification message from PID {sender}, but reception only permitted for main PID {main} (NotifyAccess=main)"
            : $"Got notification message from PID {sender}, but reception only permitted for main PID which is currently not known (NotifyAccess=main)",
        NotifyAccess.Exec when sender != mainPid && !fromControl =>
            $"Got notification message from PID {sender}, but reception only permitted for main PID {(mainPid is { } m ? m.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(not known)")} and the control process (NotifyAccess=exec)",
        _ => null,
    };

    /// <summary>
    /// The main process was spawned but its pid is not known to the machine yet (the launcher's
    /// report and the datagram race; Type=forking before the PIDFile is read): the message waits.
    /// </summary>
    public static bool WaitForMainPid(NotifyAccess access, int? mainPid, SubState sub, bool fromControl) =>
        access is NotifyAccess.Main or NotifyAccess.Exec && mainPid is null && sub == SubState.Start && !fromControl;
}
