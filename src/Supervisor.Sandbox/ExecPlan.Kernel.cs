using System.Collections.Immutable;

namespace Supervisor.Sandbox;

public sealed partial record ExecPlan
{
    /// <summary>
    /// The kernel-surface directives this plan carries out, one entry each, for inspect and the
    /// drift check; the helper does not read them (their effect is in the capability sets, the
    /// seccomp program, the mounts and the namespaces of the plan).
    /// </summary>
    public ImmutableArray<KernelProtection> KernelProtections { get; init; } = [];
}

/// <summary>
/// One kernel-surface directive (ProtectKernelModules, LockPersonality, ProcSubset …) as the
/// plan enforces it: the capabilities it takes out of the bounding set, whether the seccomp
/// program holds its rules, the paths it hides (as the service sees them), and whether it needs
/// an own uts namespace or a /proc with subset=pid.
/// </summary>
public sealed record KernelProtection(string Directive, string Meaning)
{
    public ulong DroppedCapabilities { get; init; }
    public bool InSeccompFilter { get; init; }
    public ImmutableArray<string> HiddenPaths { get; init; } = [];
    public bool OwnUts { get; init; }
    public bool ProcSubsetPid { get; init; }
}
