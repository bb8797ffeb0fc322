namespace Supervisor.Runtime;

/// <summary>Paths and limits of one daemon instance; every path is an option so instances (and tests) can run side by side.</summary>
public sealed record DaemonOptions
{
    public required string UnitsDirectory { get; init; }
    public string StateDirectory { get; init; } = "/var/lib/supervisor";
    public string RuntimeDirectory { get; init; } = "/run/supervisor";
    /// <summary>The cgroup subtree this instance owns, under each hierarchy's root.</summary>
    public string CgroupRoot { get; init; } = "supervisor";
    public long LogMaxBytes { get; init; } = 8 * 1024 * 1024;
    /// <summary>Rotated log files kept per unit besides the current one.</summary>
    public int LogFiles { get; init; } = 2;
    /// <summary>
    /// The safety net behind inotify on the units directory (and its overflow, which reconciles at
    /// once): a stat of each unit file, a reconcile only if one changed.
    /// </summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>
    /// Full verification of every running unit (live isolation against its plan, limits against the
    /// cgroup files). Each unit is also checked when it starts, limits whenever their files are
    /// written, and everything at each reconcile that changed something; this sweep is the safety
    /// net, so it can be rare (a thousand units cost ~0.5 s of CPU per sweep).
    /// </summary>
    public TimeSpan VerifyInterval { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>
    /// Reconcile on unit file changes and on the timer. Off: only SIGHUP and `supervisor
    /// daemon-reload` apply changes, so `supervisor plan` can be reviewed first.
    /// </summary>
    public bool AutoReconcile { get; init; } = true;
    /// <summary>
    /// The system bus to serve the control API on as well: an address, "auto" (DBUS_SYSTEM_BUS_ADDRESS
    /// or /run/dbus/system_bus_socket when it exists), or "off". The private socket is always served.
    /// </summary>
    public string SystemBus { get; init; } = "auto";

    /// <summary>Where /metrics is served: "ADDRESS:PORT", or "off".</summary>
    public string MetricsListen { get; init; } = "127.0.0.1:9558";

    /// <summary>Members of this group may start and stop units over the control API, as root may.</summary>
    public string? AdminGroup { get; init; }

    public string LogDirectory => Path.Combine(StateDirectory, "logs");
    public string NotifyDirectory => Path.Combine(RuntimeDirectory, "notify");
}
