using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Security;

/// <summary>
/// The checks of `systemd-analyze security` in systemd 252 (src/analyze/analyze-security.c,
/// security_assessor_table): the same names, weights, ranges and badness rules, written against
/// <see cref="SecurityFacts"/>. The score is computed as there (<see cref="ExposureScore"/>), so a
/// unit and the systemd unit it was imported from score the same unless a key is carried
/// differently (README: "Exposure score").
/// </summary>
public static partial class ExposureTable
{
    /// <summary>Every systemd check, identity and filesystem first, then capabilities, then the kernel filters.</summary>
    public static IReadOnlyList<ExposureCheck> Systemd { get; } = [.. Identity, .. FileSystem, .. CapabilityChecks, .. Process, .. Filters];

    /// <summary>Supervisor's own lines, shown but outside the score.</summary>
    public static IReadOnlyList<ExposureCheck> All { get; } = [.. Systemd, .. SupervisorOnly];

    private static ExposureCheck[] Identity =>
    [
        new("User=/DynamicUser=", 2000, 10, User),
        new("SupplementaryGroups=", 200, 1, f => f.RunsPrivileged
            ? Assessment.NotApplicable("Service runs as root, option does not matter")
            : f.HasSupplementaryGroups ? new(1, "Service runs with supplementary groups") : new(0, "Service has no supplementary groups")),
        new("RemoveIPC=", 100, 1, f => f.RunsPrivileged
            ? Assessment.NotApplicable("Service runs as root, option does not apply")
            : f.RemoveIPC ? new(0, "Service user cannot leave SysV IPC objects around") : new(1, "Service user may leave SysV IPC objects around")),
        ExposureCheck.Bool("PrivateUsers=", 1000, "Service does not have access to other users", "Service has access to other users", f => f.PrivateUsers),
        ExposureCheck.Bool("KeyringMode=", 1000, "Service doesn't share key material with other services", "Service shares key material with other service",
            f => f.KeyringMode == KeyringSetting.Private),
        ExposureCheck.Bool("NotifyAccess=", 1000, "Service child processes cannot alter service state", "Service child processes may alter service state",
            f => f.NotifyAccess != NotifyAccess.All),
        // Supervisor never hands a unit its own cgroup subtree to manage (there is no Delegate key).
        ExposureCheck.Bool("Delegate=", 100, "Service does not maintain its own delegated control group subtree",
            "Service maintains its own delegated control group subtree", _ => true),
    ];

    private static ExposureCheck[] FileSystem =>
    [
        ExposureCheck.Bool("PrivateDevices=", 1000, "Service has no access to hardware devices", "Service potentially has access to hardware devices", f => f.PrivateDevices),
        ExposureCheck.Bool("PrivateMounts=", 1000, "Service cannot install system mounts", "Service may install system mounts", f => f.PrivateMounts),
        ExposureCheck.Bool("PrivateNetwork=", 2500, "Service has no access to the host's network", "Service has access to the host's network", f => f.PrivateNetwork),
        ExposureCheck.Bool("PrivateTmp=", 1000, "Service has no access to other software's temporary files",
            "Service has access to other software's temporary files", f => f.PrivateTmp),
        ExposureCheck.Bool("ProtectControlGroups=", 1000, "Service cannot modify the control group file system",
            "Service may modify the control group file system", f => f.ProtectControlGroups),
        ExposureCheck.Bool("ProtectKernelModules=", 1000, "Service cannot load or read kernel modules", "Service may load or read kernel modules", f => f.ProtectKernelModules),
        ExposureCheck.Bool("ProtectKernelTunables=", 1000, "Service cannot alter kernel tunables (/proc/sys, …)", "Service may alter kernel tunables", f => f.ProtectKernelTunables),
        ExposureCheck.Bool("ProtectKernelLogs=", 1000, "Service cannot read from or write to the kernel log ring buffer",
            "Service may read from or write to the kernel log ring buffer", f => f.ProtectKernelLogs),
        ExposureCheck.Bool("ProtectClock=", 1000, "Service cannot write to the hardware clock or system clock",
            "Service may write to the hardware clock or system clock", f => f.ProtectClock),
        new("ProtectHome=", 1000, 10, f => f.ProtectHome switch
        {
            ProtectHome.Yes => new(0, "Service has no access to home directories"),
            ProtectHome.Tmpfs => new(1, "Service has access to fake empty home directories"),
            ProtectHome.ReadOnly => new(5, "Service has read-only access to home directories"),
            _ => new(10, "Service has full access to home directories"),
        }),
        ExposureCheck.Bool("ProtectHostname=", 50, "Service cannot change system host/domainname", "Service may change system host/domainname", f => f.ProtectHostname),
        new("ProtectSystem=", 1000, 10, f => f.ProtectSystem switch
        {
            ProtectSystem.Strict => new(0, "Service has strict read-only access to the OS file hierarchy"),
            ProtectSystem.Full => new(3, "Service has very limited write access to the OS file hierarchy"),
            ProtectSystem.Yes => new(5, "Service has limited write access to the OS file hierarchy"),
            _ => new(10, "Service has full access to the OS file hierarchy"),
        }),
        ExposureCheck.Bool("RootDirectory=/RootImage=", 200, "Service has its own root directory/image", "Service runs within the host's root directory", f => f.HasRootDirectory),
        new("ProtectProc=", 1000, 3, f => f.ProtectProc switch
        {
            ProtectProc.Invisible or ProtectProc.Ptraceable => new(0, "Service has restricted access to process tree (/proc hidepid=)"),
            ProtectProc.Noaccess => new(1, "Service has restricted access to process tree (/proc hidepid=)"),
            _ => new(3, "Service has full access to process tree (/proc hidepid=)"),
        }),
        ExposureCheck.Bool("ProcSubset=", 10, "Service has no access to non-process /proc files (/proc subset=)",
            "Service has full access to non-process /proc files (/proc subset=)", f => f.ProcSubset == ProcSubset.Pid),
    ];

    private static ExposureCheck[] Process =>
    [
        ExposureCheck.Bool("LockPersonality=", 100, "Service cannot change ABI personality", "Service may change ABI personality", f => f.LockPersonality),
        ExposureCheck.Bool("MemoryDenyWriteExecute=", 100, "Service cannot create writable executable memory mappings",
            "Service may create writable executable memory mappings", f => f.MemoryDenyWriteExecute),
        ExposureCheck.Bool("NoNewPrivileges=", 1000, "Service processes cannot acquire new privileges", "Service processes may acquire new privileges", f => f.NoNewPrivileges),
        new("UMask=", 100, 10, UMask),
        ExposureCheck.Bool("RestrictRealtime=", 500, "Service realtime scheduling access is restricted", "Service may acquire realtime scheduling", f => f.RestrictRealtime),
        ExposureCheck.Bool("RestrictSUIDSGID=", 1000, "SUID/SGID file creation by service is restricted", "Service may create SUID/SGID files", f => f.RestrictSUIDSGID),
        ExposureCheck.Bool("AmbientCapabilities=", 500, "Service process does not receive ambient capabilities", "Service process receives ambient capabilities",
            f => f.AmbientCapabilities == 0),
    ];

    /// <summary>systemd's assess_user: "nobody" is worse than any other non-root user, as files it owns are shared by everything run as nobody.</summary>
    private static Assessment User(SecurityFacts f)
    {
        if (f.User == SecurityFacts.NobodyUser) return new(9, "Service runs under as 'nobody' user, which should not be used for services");
        if (f.DynamicUser && f.User is not ("0" or "root")) return new(0, "Service runs under a transient non-root user identity");
        if (f.User is { Length: > 0 } and not ("0" or "root")) return new(0, "Service runs under a static non-root user identity");
        return new(10, "Service runs as root user");
    }

    /// <summary>systemd's assess_umask: the first permission the mask leaves open to others, then to the group.</summary>
    private static Assessment UMask(SecurityFacts f) =>
        (f.UMask & 0x2) == 0 ? new(10, "Files created by service are world-writable by default")
        : (f.UMask & 0x4) == 0 ? new(5, "Files created by service are world-readable by default")
        : (f.UMask & 0x10) == 0 ? new(2, "Files created by service are group-writable by default")
        : (f.UMask & 0x20) == 0 ? new(1, "Files created by service are group-readable by default")
        : new(0, "Files created by service are accessible only by service's own user by default");
}
