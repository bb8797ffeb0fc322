namespace Supervisor.Cgroups;

/// <summary>A value written by Apply: key, full file path, what the file held, what was written.</summary>
public sealed record LimitChange(string Key, string File, string Old, string New);

/// <summary>A declared value that the cgroup file no longer holds (someone wrote it by hand).</summary>
public sealed record LimitDrift(string Key, string File, string Declared, string Found);

public enum UnhonouredKind
{
    /// <summary>The cgroup version has no such knob (MemoryHigh on v1).</summary>
    NotOnThisVersion,

    /// <summary>The controller is not mounted (v1) or not enabled for our subtree (v2).</summary>
    ControllerMissing,

    /// <summary>The controller is there but the file is not (kernel option or boot flag off).</summary>
    FileMissing,

    /// <summary>Written, but with weaker semantics than declared (MemoryLow as a v1 soft limit).</summary>
    Approximated,

    /// <summary>
    /// Part of the value names something this host lacks and is left out, as systemd leaves it out
    /// (a DeviceAllow path that does not exist); the rest applies.
    /// </summary>
    Ignored,
}

/// <summary>A declared key the host cannot honour (fully), and why. Reported, never silently dropped.</summary>
public sealed record Unhonoured(string Key, string Reason, UnhonouredKind Kind)
{
    public override string ToString() => $"{Key}: {Reason}";
}

/// <summary>
/// One device or network key of a cgroup, checked for `inspect`: where it is enforced (a file, or
/// a cgroup and BPF attach type), what is declared and what the kernel holds.
/// </summary>
public sealed record AccessState(string Key, string Where, string Declared, string Found, bool Matches);
