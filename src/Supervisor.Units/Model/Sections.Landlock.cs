namespace Supervisor.Units.Model;

/// <summary>
/// [Sandbox] Landlock keys (names are Supervisor's: systemd has none). Landlock is an LSM that an
/// unprivileged process applies to itself: the helper builds a ruleset from these lists just
/// before seccomp, and from then on the service and its children can reach only what the rules
/// allow. It needs no mount namespace, and stacks with ProtectSystem and the *Paths mounts.
/// </summary>
public sealed partial record SandboxSection
{
    /// <summary>Paths (and everything below them) the service may read: files and directory listings.</summary>
    public ValueList<OptionalPath> LandlockReadOnlyPaths { get; init; } = ValueList<OptionalPath>.Empty;
    /// <summary>Paths the service may read and write, create and remove in: every filesystem right the kernel's ABI knows.</summary>
    public ValueList<OptionalPath> LandlockReadWritePaths { get; init; } = ValueList<OptionalPath>.Empty;
    /// <summary>Paths the service may execute programs from (and read).</summary>
    public ValueList<OptionalPath> LandlockExecutePaths { get; init; } = ValueList<OptionalPath>.Empty;
    /// <summary>TCP ports the service may bind; null: not restricted, empty: none (Landlock ABI 4).</summary>
    public ValueList<int>? LandlockBindPorts { get; init; }
    /// <summary>TCP ports the service may connect to; null: not restricted, empty: none (Landlock ABI 4).</summary>
    public ValueList<int>? LandlockConnectPorts { get; init; }
    /// <summary>IPC the service may no longer reach outside its Landlock domain (Landlock ABI 6).</summary>
    public ValueList<LandlockScope> LandlockScope { get; init; } = ValueList<LandlockScope>.Empty;
    /// <summary>What a kernel without Landlock, or with an ABI too old for a key, does to the unit.</summary>
    public LandlockCompatibility LandlockCompatibility { get; init; }

    /// <summary>Any filesystem rule: everything not below a listed path is refused.</summary>
    public bool HasLandlockFilesystem => LandlockReadOnlyPaths.Count > 0 || LandlockReadWritePaths.Count > 0 || LandlockExecutePaths.Count > 0;

    /// <summary>Any TCP port list declared (an empty one too: it refuses every port).</summary>
    public bool HasLandlockNetwork => LandlockBindPorts is not null || LandlockConnectPorts is not null;

    /// <summary>Any Landlock key that asks for a ruleset.</summary>
    public bool HasLandlock => HasLandlockFilesystem || HasLandlockNetwork || LandlockScope.Count > 0;

    /// <summary>The first Landlock key the unit sets (in table order), for a diagnostic about all of them; null when none is.</summary>
    public string? FirstLandlockKey =>
        LandlockReadOnlyPaths.Count > 0 ? nameof(LandlockReadOnlyPaths)
        : LandlockReadWritePaths.Count > 0 ? nameof(LandlockReadWritePaths)
        : LandlockExecutePaths.Count > 0 ? nameof(LandlockExecutePaths)
        : LandlockBindPorts is not null ? nameof(LandlockBindPorts)
        : LandlockConnectPorts is not null ? nameof(LandlockConnectPorts)
        : LandlockScope.Count > 0 ? nameof(LandlockScope) : null;

    /// <summary>Paths and ports together: one Landlock rule each in the plan.</summary>
    public int LandlockRuleCount =>
        LandlockReadOnlyPaths.Count + LandlockReadWritePaths.Count + LandlockExecutePaths.Count +
        (LandlockBindPorts?.Count ?? 0) + (LandlockConnectPorts?.Count ?? 0);
}

/// <summary>LandlockScope entries: IPC out of the service's Landlock domain that is refused (LANDLOCK_SCOPE_*).</summary>
public enum LandlockScope { AbstractUnixSocket, Signal }

/// <summary>
/// LandlockCompatibility: "required" fails closed (the unit is bad-setting when the kernel lacks
/// what a key needs); "best-effort" applies what the kernel has and skips the rest with a warning.
/// </summary>
public enum LandlockCompatibility { Required, BestEffort }
