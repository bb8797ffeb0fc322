using System.Collections.Immutable;

namespace Supervisor.Sandbox;

public sealed partial record ExecPlan
{
    /// <summary>The Landlock ruleset the helper applies just before seccomp; null for none.</summary>
    public LandlockRuleset? Landlock { get; init; }
}

/// <summary>
/// A Landlock ruleset as landlock_create_ruleset(2) takes it: the rights it handles (refused
/// unless a rule allows them) and the rules, paths as the service sees them (the helper opens
/// them once the mount namespace is built). Rights are the kernel's LANDLOCK_ACCESS_* bits
/// (<see cref="LandlockAccess"/>), already limited to what this kernel's ABI knows.
/// </summary>
public sealed record LandlockRuleset(ulong HandledFs, ulong HandledNet, ulong Scoped)
{
    public ImmutableArray<LandlockPathRule> Paths { get; init; } = [];
    public ImmutableArray<LandlockPortRule> Ports { get; init; } = [];
    /// <summary>The ABI the rights were chosen for (for inspect).</summary>
    public int Abi { get; init; }
    /// <summary>With LandlockCompatibility "best-effort": what this kernel could not enforce, one phrase each.</summary>
    public ImmutableArray<string> Skipped { get; init; } = [];

    public int RuleCount => Paths.Length + Ports.Length;

    /// <summary>"fs 0xffff (3 paths), net bind connect (2 ports), scope signal": what inspect shows as declared.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (HandledFs != 0) parts.Add($"filesystem ({Paths.Length} path{(Paths.Length == 1 ? "" : "s")})");
        if (HandledNet != 0)
            parts.Add($"tcp {string.Join('/', new[] { (LandlockAccess.BindTcp, "bind"), (LandlockAccess.ConnectTcp, "connect") }.Where(n => (HandledNet & n.Item1) != 0).Select(n => n.Item2))} " +
                $"({Ports.Length} port{(Ports.Length == 1 ? "" : "s")})");
        if (Scoped != 0)
            parts.Add("scope " + string.Join('/', new[] { (LandlockAccess.ScopeAbstractUnixSocket, "abstract-unix-socket"), (LandlockAccess.ScopeSignal, "signal") }.Where(n => (Scoped & n.Item1) != 0).Select(n => n.Item2)));
        return $"ABI {Abi}: {string.Join(", ", parts)}";
    }
}

/// <summary>One path-beneath rule: the rights allowed below <see cref="Path"/>; <see cref="Optional"/>: skipped when it does not exist ("-").</summary>
public sealed record LandlockPathRule(string Path, ulong Access, bool Optional);

/// <summary>One TCP port rule: LANDLOCK_ACCESS_NET_BIND_TCP and/or CONNECT_TCP for <see cref="Port"/>.</summary>
public sealed record LandlockPortRule(int Port, ulong Access);

/// <summary>The kernel's LANDLOCK_ACCESS_* and LANDLOCK_SCOPE_* bits (uapi linux/landlock.h), and which ABI brought each.</summary>
public static class LandlockAccess
{
    public const ulong Execute = 1UL << 0;
    public const ulong WriteFile = 1UL << 1;
    public const ulong ReadFile = 1UL << 2;
    public const ulong ReadDir = 1UL << 3;
    /// <summary>EXECUTE … MAKE_SYM: the thirteen rights of ABI 1.</summary>
    public const ulong Abi1Fs = (1UL << 13) - 1;
    public const ulong Refer = 1UL << 13;     // ABI 2
    public const ulong Truncate = 1UL << 14;  // ABI 3
    public const ulong IoctlDev = 1UL << 15;  // ABI 5

    public const ulong BindTcp = 1UL << 0;    // ABI 4
    public const ulong ConnectTcp = 1UL << 1; // ABI 4

    public const ulong ScopeAbstractUnixSocket = 1UL << 0; // ABI 6
    public const ulong ScopeSignal = 1UL << 1;             // ABI 6

    /// <summary>The first ABI with TCP port rules, and the first with scopes.</summary>
    public const int NetworkAbi = 4, ScopeAbi = 6;

    /// <summary>Every filesystem right the kernel of <paramref name="abi"/> knows.</summary>
    public static ulong FilesystemRights(int abi) =>
        abi < 1 ? 0 : Abi1Fs | (abi >= 2 ? Refer : 0) | (abi >= 3 ? Truncate : 0) | (abi >= 5 ? IoctlDev : 0);
}
