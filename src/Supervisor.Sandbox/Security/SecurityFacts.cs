using Supervisor.Units.Model;
using Caps = Supervisor.Units.Values.Capabilities;

namespace Supervisor.Sandbox.Security;

/// <summary>
/// What the exposure checks read about one unit: systemd's SecurityInfo (analyze-security.c),
/// filled from a unit's declaration as systemd fills it offline (after the implications its other
/// keys carry: DynamicUser, PrivateDevices, the Protect* capability drops), then optionally
/// overridden by what a running process was found to have (<see cref="WithLive"/>).
/// </summary>
public sealed partial record SecurityFacts
{
    /// <summary>The user name (or number) the service runs as; null or "" is root, as in systemd.</summary>
    public string? User { get; init; }
    public bool DynamicUser { get; init; }
    public bool HasSupplementaryGroups { get; init; }

    public ulong CapabilityBoundingSet { get; init; } = ulong.MaxValue;
    public ulong AmbientCapabilities { get; init; }

    public bool PrivateDevices { get; init; }
    public bool PrivateMounts { get; init; }
    public bool PrivateNetwork { get; init; }
    public bool PrivateTmp { get; init; }
    public bool PrivateUsers { get; init; }
    public bool ProtectControlGroups { get; init; }
    public bool ProtectKernelModules { get; init; }
    public bool ProtectKernelTunables { get; init; }
    public bool ProtectKernelLogs { get; init; }
    public bool ProtectClock { get; init; }
    public bool ProtectHostname { get; init; }
    public ProtectHome ProtectHome { get; init; }
    public ProtectSystem ProtectSystem { get; init; }
    public bool HasRootDirectory { get; init; }

    public bool LockPersonality { get; init; }
    public bool MemoryDenyWriteExecute { get; init; }
    public bool NoNewPrivileges { get; init; }
    public uint UMask { get; init; } = SandboxSection.DefaultUMask;
    public KeyringSetting KeyringMode { get; init; } = KeyringSetting.Private;
    public ProtectProc ProtectProc { get; init; }
    public ProcSubset ProcSubset { get; init; }
    public NotifyAccess NotifyAccess { get; init; }
    public bool RemoveIPC { get; init; }
    public bool RestrictRealtime { get; init; }
    public bool RestrictSUIDSGID { get; init; }

    /// <summary>The namespace types the service may still create (RestrictNamespaces' "retain" set); all when unrestricted.</summary>
    public Namespaces NamespacesAllowed { get; init; } = NamespaceRestriction.Restrictable;
    /// <summary>Which of systemd's five address family classes RestrictAddressFamilies closes.</summary>
    public bool RestrictInet { get; init; }
    public bool RestrictUnix { get; init; }
    public bool RestrictNetlink { get; init; }
    public bool RestrictPacket { get; init; }
    public bool RestrictOtherFamilies { get; init; }

    public IReadOnlyList<SyscallArchitecture> SyscallArchitectures { get; init; } = [];
    /// <summary>The resolved SystemCallFilter (allowed calls for an allow list, denied ones for a deny list); null: no filter.</summary>
    public IReadOnlySet<string>? SyscallFilter { get; init; }
    public bool SyscallFilterIsAllowList { get; init; }

    public bool IpDenyAll { get; init; }
    public bool IpAllowLocalhost { get; init; }
    public bool IpAllowOther { get; init; }
    public DevicePolicy DevicePolicy { get; init; }
    public bool HasDeviceAllow { get; init; }

    /// <summary>Supervisor only: the Landlock keys the unit sets.</summary>
    public bool LandlockFilesystem { get; init; }
    public bool LandlockBindPorts { get; init; }
    public bool LandlockConnectPorts { get; init; }
    public int LandlockScopes { get; init; }

    /// <summary>Supervisor only: what learn mode recorded for the unit (null: nothing learned, or not looked up), and whether it is still learning.</summary>
    public IReadOnlySet<string>? LearnedSyscalls { get; init; }
    public bool SyscallFilterLearning { get; init; }

    /// <summary>Null for a declaration; for a running unit, what inspect compared and what differed.</summary>
    public LiveVerification? Live { get; init; }

    /// <summary>Root as systemd's security_info_runs_privileged() decides it.</summary>
    public bool RunsPrivileged => User is "0" or "root" || (!DynamicUser && string.IsNullOrEmpty(User));

    /// <summary>The facts of a declared service unit, with the implications systemd applies when it loads one.</summary>
    public static SecurityFacts FromDeclaration(UnitDefinition unit)
    {
        var x = unit.Sandbox.WithImplications();
        var s = unit.Service;
        var resources = unit.EffectiveResources();
        ulong bounding = x.CapabilityBoundingSet?.Mask(Caps.Last) ?? ulong.MaxValue;
        foreach (var (_, cap) in x.KernelCapabilityDrops) bounding &= ~(1UL << cap);
        ulong ambient = 0;
        foreach (var cap in x.AmbientCapabilities) ambient |= 1UL << cap;
        return FromSandbox(x) with
        {
            User = s.User,
            DynamicUser = x.DynamicUser,
            HasSupplementaryGroups = s.SupplementaryGroups.Count > 0,
            CapabilityBoundingSet = bounding,
            AmbientCapabilities = ambient,
            NotifyAccess = s.EffectiveNotifyAccess,
            IpDenyAll = resources.IPAddressDeny.Any(p => p.PrefixLength == 0 && !p.IsV6) && resources.IPAddressDeny.Any(p => p.PrefixLength == 0 && p.IsV6),
            IpAllowLocalhost = resources.IPAddressAllow.Any(p => System.Net.IPAddress.IsLoopback(p.Address)),
            IpAllowOther = resources.IPAddressAllow.Any(p => !System.Net.IPAddress.IsLoopback(p.Address)),
            DevicePolicy = resources.DevicePolicy ?? DevicePolicy.Auto,
            HasDeviceAllow = resources.DeviceAllow.Count > 0,
        };
    }

    /// <summary>The [Sandbox] keys that map one to one onto systemd's fields.</summary>
    private static SecurityFacts FromSandbox(SandboxSection x) => WithFamilies(new SecurityFacts
    {
        PrivateDevices = x.PrivateDevices,
        PrivateMounts = x.PrivateMounts,
        PrivateNetwork = x.PrivateNetwork,
        PrivateTmp = x.PrivateTmp,
        PrivateUsers = x.PrivateUsers,
        ProtectControlGroups = x.ProtectControlGroups,
        ProtectKernelModules = x.ProtectKernelModules,
        ProtectKernelTunables = x.ProtectKernelTunables,
        ProtectKernelLogs = x.ProtectKernelLogs,
        ProtectClock = x.ProtectClock,
        ProtectHostname = x.ProtectHostname,
        ProtectHome = x.ProtectHome,
        ProtectSystem = x.ProtectSystem,
        HasRootDirectory = x.RootDirectory is { } root && root != "/",
        LockPersonality = x.LockPersonality,
        MemoryDenyWriteExecute = x.MemoryDenyWriteExecute,
        NoNewPrivileges = x.NoNewPrivileges,
        UMask = x.UMask,
        KeyringMode = x.KeyringMode,
        ProtectProc = x.ProtectProc,
        ProcSubset = x.ProcSubset,
        RemoveIPC = x.RemoveIPC,
        RestrictRealtime = x.RestrictRealtime,
        RestrictSUIDSGID = x.RestrictSUIDSGID,
        NamespacesAllowed = x.RestrictNamespaces?.Allowed ?? NamespaceRestriction.Restrictable,
        SyscallArchitectures = [.. x.SystemCallArchitectures],
        SyscallFilter = x.SystemCallFilter?.Resolve(),
        SyscallFilterIsAllowList = x.SystemCallFilter?.IsAllowList ?? false,
        SyscallFilterLearning = x.SystemCallFilterMode == SyscallFilterMode.Learn,
        LandlockFilesystem = x.HasLandlockFilesystem,
        LandlockBindPorts = x.LandlockBindPorts is not null,
        LandlockConnectPorts = x.LandlockConnectPorts is not null,
        LandlockScopes = x.LandlockScope.Distinct().Count(),
    }, x.RestrictAddressFamilies);

    /// <summary>
    /// systemd's five classes: an allow list closes every class none of its families falls in; a
    /// deny list closes the classes it names (AF_INET or AF_INET6 alone closes the Internet class, as there).
    /// </summary>
    private static SecurityFacts WithFamilies(SecurityFacts f, AddressFamilyRestriction? r)
    {
        if (r is null) return f;
        bool allow = !r.Invert;
        bool inet = allow, unix = allow, netlink = allow, packet = allow, other = allow;
        foreach (var family in r.Families)
        {
            switch (family)
            {
                case AfInet or AfInet6: inet = !allow; break;
                case AfUnix: unix = !allow; break;
                case AfNetlink: netlink = !allow; break;
                case AfPacket: packet = !allow; break;
                default: other = !allow; break;
            }
        }
        return f with { RestrictInet = inet, RestrictUnix = unix, RestrictNetlink = netlink, RestrictPacket = packet, RestrictOtherFamilies = other };
    }

    // Linux's AF_* numbers (the unit model keeps them as the kernel does; .NET's AddressFamily enum is Windows').
    private const int AfUnix = 1;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int AfNetlink = 16;
    private const int AfPacket = 17;
}
