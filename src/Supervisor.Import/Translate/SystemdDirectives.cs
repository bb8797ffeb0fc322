using System.Reflection;

namespace Supervisor.Import.Translate;

/// <summary>One target of a systemd directive: the Supervisor key it sets, and a conversion other than by the key's type, if any.</summary>
public sealed record Target(string Key, Func<string, string>? Convert = null, string? Section = null);

/// <summary>
/// What the translator knows about systemd, kept apart from what it knows about Supervisor (which
/// is the key table): where systemd's sections put their directives, the few directives that
/// Supervisor spells differently, and the ones that mean nothing outside systemd as PID 1.
/// Everything else is mapped by name through the key table, so keys added to the table are
/// carried without a change here.
/// </summary>
public static class SystemdDirectives
{
    /// <summary>
    /// Section moves: systemd's [Service] holds exec, resource and sandbox directives, which
    /// Supervisor splits into [Service], [Resources] and [Sandbox]; a slice's [Slice] is [Resources].
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> SectionHomes = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["Unit"] = ["Unit"],
        ["Service"] = ["Service", "Resources", "Sandbox"],
        ["Slice"] = ["Resources"],
        ["Socket"] = ["Socket"],
    };

    /// <summary>The sections systemd reads in a unit of this type; it ignores any other with a warning.</summary>
    public static IReadOnlyList<string> SectionsOf(string type) => type switch
    {
        "slice" => ["Unit", "Slice", "Install"],
        "socket" => ["Unit", "Socket", "Install"],
        _ => ["Unit", "Service", "Install"],
    };

    /// <summary>
    /// Renames: systemd directives Supervisor spells differently or keeps in another section,
    /// their old names that systemd 252 still reads, and one that sets two keys (TimeoutSec).
    /// </summary>
    public static readonly IReadOnlyDictionary<(string Section, string Key), Target[]> Renames = BuildRenames();

    private static Dictionary<(string, string), Target[]> BuildRenames()
    {
        var r = new Dictionary<(string, string), Target[]>
        {
            // systemd moved the start limit to [Unit] in v230; Supervisor keeps it with the restart policy in [Service].
            [("Unit", "StartLimitIntervalSec")] = [new("StartLimitIntervalSec", Section: "Service")],
            [("Unit", "StartLimitInterval")] = [new("StartLimitIntervalSec", Section: "Service")],
            [("Unit", "StartLimitBurst")] = [new("StartLimitBurst", Section: "Service")],
            [("Service", "StartLimitInterval")] = [new("StartLimitIntervalSec")],
            [("Unit", "BindTo")] = [new("BindsTo")],
            // systemd 252 reads it as Requires= (with a warning that it is obsolete).
            [("Unit", "RequiresOverridable")] = [new("Requires")],
            [("Service", "TimeoutSec")] = [new("TimeoutStartSec"), new("TimeoutStopSec")],
            [("Service", "ReadWriteDirectories")] = [new("ReadWritePaths")],
            [("Service", "ReadOnlyDirectories")] = [new("ReadOnlyPaths")],
            [("Service", "InaccessibleDirectories")] = [new("InaccessiblePaths")],
        };
        // cgroup v1 names, which systemd 252 converts as below when it writes the v2 files.
        foreach (var section in (string[])["Service", "Slice"])
        {
            r[(section, "MemoryLimit")] = [new("MemoryMax")];
            r[(section, "CPUShares")] = [new("CPUWeight", v => Rescale(v, 1024, 2, 262144))];
            r[(section, "BlockIOWeight")] = [new("IOWeight", v => Rescale(v, 500, 10, 1000))];
            r[(section, "BlockIOReadBandwidth")] = [new("IOReadBandwidthMax")];
            r[(section, "BlockIOWriteBandwidth")] = [new("IOWriteBandwidthMax")];
        }
        return r;
    }

    /// <summary>
    /// A cgroup v1 weight as systemd converts it to the v2 weight (cgroup_cpu_shares_to_weight,
    /// cgroup_weight_blkio_to_io): weight = value × 100 / the v1 default, clamped to 1–10000.
    /// </summary>
    private static string Rescale(string value, long v1Default, long min, long max)
    {
        if (value.Length == 0 || !long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            return value;
        return Math.Clamp(n * 100 / v1Default, 1, 10000).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Directives left out on purpose, because they mean nothing here, with the reason.</summary>
    public static readonly IReadOnlyDictionary<string, (Why Why, string Reason)> LeftOutOnPurpose = BuildLeftOut();

    private static Dictionary<string, (Why, string)> BuildLeftOut()
    {
        const string isolate = "init-only: isolating a target is an operation of systemd as PID 1";
        const string accounting = "Supervisor accounts CPU, memory, IO and tasks of every unit; nothing to switch on";
        const string removed = "systemd 252 ignores it too (support was removed)";
        return new Dictionary<string, (Why, string)>(StringComparer.Ordinal)
        {
            ["DefaultDependencies"] = (Why.InitOnly, "init-only: the implicit dependencies on sysinit.target, basic.target and shutdown.target exist only under systemd as PID 1"),
            ["IgnoreOnIsolate"] = (Why.InitOnly, isolate),
            ["AllowIsolate"] = (Why.InitOnly, isolate),
            ["CollectMode"] = (Why.InitOnly, "init-only: when systemd unloads a unit from memory; Supervisor keeps every unit of its directory"),
            ["SourcePath"] = (Why.InitOnly, "init-only: the file a generator made the unit from, for information"),
            ["CPUAccounting"] = (Why.NoEffectHere, accounting),
            ["MemoryAccounting"] = (Why.NoEffectHere, accounting),
            ["IOAccounting"] = (Why.NoEffectHere, accounting),
            ["BlockIOAccounting"] = (Why.NoEffectHere, accounting),
            ["TasksAccounting"] = (Why.NoEffectHere, accounting),
            ["IgnoreOnSnapshot"] = (Why.IgnoredBySystemd, removed),
            ["Capabilities"] = (Why.IgnoredBySystemd, removed),
            ["SysVStartPriority"] = (Why.IgnoredBySystemd, removed),
            ["NetClass"] = (Why.IgnoredBySystemd, removed),
        };
    }

    public const string InstallReason = "init-only: [Install] is read by systemctl enable; Supervisor starts every unit of its directory";

    /// <summary>
    /// Directives whose every assignment is one item, spaces included (systemd does not split
    /// them into words): "EnvironmentFile=-/etc/default/x", "DeviceAllow=/dev/null rw".
    /// </summary>
    public static readonly IReadOnlySet<string> OneItemPerAssignment = new HashSet<string>(StringComparer.Ordinal)
    {
        "EnvironmentFile", "DeviceAllow", "LoadCredential", "LoadCredentialEncrypted", "SetCredential", "SetCredentialEncrypted",
        "IODeviceWeight", "IODeviceLatencyTargetSec", "BlockIODeviceWeight", "SocketBindAllow", "SocketBindDeny",
        "BPFProgram", "IPIngressFilterPath", "IPEgressFilterPath", "TemporaryFileSystem", "LogExtraFields",
        "ListenStream", "ListenDatagram", "ListenSequentialPacket",
    };

    /// <summary>Timeouts where systemd reads 0 as "no timeout" ("Pass 0 to disable the timeout logic").</summary>
    public static readonly IReadOnlySet<string> ZeroMeansInfinity = new HashSet<string>(StringComparer.Ordinal)
    {
        "TimeoutStartSec", "TimeoutStopSec", "TimeoutSec", "TimeoutAbortSec",
    };

    /// <summary>
    /// Environment variables systemd sets for a service that Supervisor does not: a command that
    /// uses one cannot be carried ($TERM in a getty is the common one).
    /// </summary>
    public static readonly IReadOnlySet<string> SetBySystemdOnly = new HashSet<string>(StringComparer.Ordinal)
    {
        "MANAGERPID", "SERVICE_RESULT", "EXIT_CODE", "EXIT_STATUS", "INVOCATION_ID", "JOURNAL_STREAM",
        "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC", "RUNTIME_DIRECTORY", "STATE_DIRECTORY",
        "CACHE_DIRECTORY", "LOGS_DIRECTORY", "CONFIGURATION_DIRECTORY", "CREDENTIALS_DIRECTORY", "SYSTEMD_EXEC_PID", "PIDFILE",
        "MONITOR_SERVICE_RESULT", "MONITOR_EXIT_CODE", "MONITOR_EXIT_STATUS", "MONITOR_INVOCATION_ID", "MONITOR_UNIT",
        "TRIGGER_UNIT", "TRIGGER_PATH", "TRIGGER_TIMER_REALTIME_USEC", "TRIGGER_TIMER_MONOTONIC_USEC", "TERM", "LANG",
        "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC", "LC_TIME", "LC_MONETARY",
    };

    /// <summary>Variables Supervisor itself sets for every service (the exec plan), as systemd does.</summary>
    public static readonly IReadOnlySet<string> SetBySupervisor = new HashSet<string>(StringComparer.Ordinal)
    {
        "PATH", "USER", "LOGNAME", "HOME", "SHELL", "NOTIFY_SOCKET",
    };

    /// <summary>systemd's exit status names (DATAERR …): one table, the unit files' own (Units/Values/ExitStatusNames.cs).</summary>
    public static IReadOnlyDictionary<string, int> ExitStatusNames => Supervisor.Units.Values.ExitStatusNames.ByName;

    /// <summary>Every directive systemd 252 knows in [Unit], [Service], [Slice] and [Install] (Tables/systemd-directives.txt).</summary>
    public static readonly IReadOnlySet<string> Known = LoadKnown();

    /// <summary>Directives newer than systemd 252 that Supervisor has (systemd 254's restart backoff): a unit written for a newer systemd may use them.</summary>
    private static readonly IReadOnlySet<string> NewerThan252 = new HashSet<string>(StringComparer.Ordinal) { "Service.RestartSteps", "Service.RestartMaxDelaySec" };

    public static bool IsKnown(string section, string key) => Known.Contains(section + "." + key) || NewerThan252.Contains(section + "." + key);

    private static HashSet<string> LoadKnown()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Supervisor.Import.systemd-directives.txt")
            ?? throw new InvalidOperationException("the systemd directive table is not embedded in Supervisor.Import");
        using var reader = new StreamReader(stream);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
            if (line.Length > 0 && line[0] != '#') set.Add(line.Trim());
        return set;
    }
}
