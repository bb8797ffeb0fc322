using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>systemd's NotifyAccess=: whose sd_notify messages the supervisor believes.</summary>
public enum NotifyAccess
{
    /// <summary>Nobody's: every message is dropped.</summary>
    None,
    /// <summary>The main process's only.</summary>
    Main,
    /// <summary>The main process's and those of the control commands (ExecStartPre, ExecReload …).</summary>
    Exec,
    /// <summary>Any process of the unit's cgroup.</summary>
    All,
}

/// <summary>[Service] keys of the stop and kill path, the watchdog abort and sd_notify access (systemd.kill(5), systemd.service(5)).</summary>
public sealed partial record ServiceSection
{
    /// <summary>The time the service gets after WatchdogSignal before FinalKillSignal; null: TimeoutStopSec (systemd's default).</summary>
    public Duration? TimeoutAbortSec { get; init; }
    /// <summary>Sent to the main process when WATCHDOG=1 did not arrive in time (systemd: SIGABRT, so it can dump core).</summary>
    public int WatchdogSignal { get; init; } = 6;
    /// <summary>The stop signal of a restart job; null: KillSignal.</summary>
    public int? RestartKillSignal { get; init; }
    /// <summary>The signal of the last kill step (after TimeoutStopSec, or to what remains with KillMode=mixed).</summary>
    public int FinalKillSignal { get; init; } = 9;
    /// <summary>SIGHUP right after the stop signal, as systemd does for shells that ignore SIGTERM.</summary>
    public bool SendSIGHUP { get; init; }
    /// <summary>As declared; null when the unit does not say (see <see cref="EffectiveNotifyAccess"/>).</summary>
    public NotifyAccess? NotifyAccess { get; init; }

    /// <summary>The abort timeout in force: TimeoutAbortSec, else TimeoutStopSec.</summary>
    public Duration EffectiveTimeoutAbortSec => TimeoutAbortSec ?? TimeoutStopSec;

    /// <summary>
    /// NotifyAccess as systemd 252 applies it (service_add_extras): "none" (also when unset) becomes
    /// "main" for Type=notify and whenever the watchdog is on, or READY=1 and WATCHDOG=1 could never arrive.
    /// </summary>
    public NotifyAccess EffectiveNotifyAccess =>
        (NotifyAccess ?? Model.NotifyAccess.None) is Model.NotifyAccess.None && (Type == ServiceType.Notify || WatchdogEnabled)
            ? Model.NotifyAccess.Main
            : NotifyAccess ?? Model.NotifyAccess.None;
}
