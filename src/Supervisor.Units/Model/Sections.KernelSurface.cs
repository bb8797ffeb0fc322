using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>
/// [Sandbox] keys that close kernel interfaces (systemd.exec(5)): seccomp argument filters
/// (RestrictNamespaces … RestrictAddressFamilies) and the Protect* kernel directives.
/// </summary>
public sealed partial record SandboxSection
{
    /// <summary>Null: no restriction (systemd's RestrictNamespaces=no).</summary>
    public NamespaceRestriction? RestrictNamespaces { get; init; }
    public bool LockPersonality { get; init; }
    public bool MemoryDenyWriteExecute { get; init; }
    public bool RestrictRealtime { get; init; }
    public bool RestrictSUIDSGID { get; init; }
    /// <summary>Null: every address family (systemd's empty RestrictAddressFamilies=).</summary>
    public AddressFamilyRestriction? RestrictAddressFamilies { get; init; }

    public bool ProtectKernelModules { get; init; }
    public bool ProtectKernelLogs { get; init; }
    public bool ProtectClock { get; init; }
    public bool ProtectHostname { get; init; }
    public ProcSubset ProcSubset { get; init; }

    /// <summary>
    /// The capabilities the Protect* directives take out of the bounding set, each with the
    /// directive that does it (systemd's unit_patch_contexts): the loader checks them against
    /// AmbientCapabilities and the plan compiler removes them, from this one list.
    /// </summary>
    public IEnumerable<(string Directive, int Capability)> KernelCapabilityDrops
    {
        get
        {
            if (PrivateDevices)
            {
                // systemd: a service with a private /dev has no use for creating device nodes or raw I/O.
                yield return ("PrivateDevices", Capabilities.Parse("CAP_MKNOD"));
                yield return ("PrivateDevices", Capabilities.Parse("CAP_SYS_RAWIO"));
            }
            if (ProtectKernelModules) yield return ("ProtectKernelModules", Capabilities.Parse("CAP_SYS_MODULE"));
            if (ProtectKernelLogs) yield return ("ProtectKernelLogs", Capabilities.Parse("CAP_SYSLOG"));
            if (ProtectClock)
            {
                yield return ("ProtectClock", Capabilities.Parse("CAP_SYS_TIME"));
                yield return ("ProtectClock", Capabilities.Parse("CAP_WAKE_ALARM"));
            }
        }
    }

    /// <summary>Any directive that is enforced by the seccomp filter.</summary>
    public bool HasKernelSeccompDirectives =>
        RestrictNamespaces is not null || LockPersonality || MemoryDenyWriteExecute || RestrictRealtime || RestrictSUIDSGID ||
        RestrictAddressFamilies is not null || ProtectKernelModules || ProtectKernelLogs || ProtectClock || ProtectHostname || PrivateDevices;
}

/// <summary>ProcSubset=: "all" shows all of /proc; "pid" only the process directories (procfs subset=pid).</summary>
public enum ProcSubset { All, Pid }

/// <summary>
/// RestrictNamespaces as written: true (Listed empty, not inverted) allows no namespace type; a
/// list allows the listed types; with "~" on the first entry it allows all but the listed ones.
/// </summary>
public sealed record NamespaceRestriction(bool Invert, Namespaces Listed)
{
    /// <summary>The seven types systemd's RestrictNamespaces knows (time namespaces are not among them).</summary>
    public const Namespaces Restrictable =
        Namespaces.Cgroup | Namespaces.Ipc | Namespaces.Net | Namespaces.Mount | Namespaces.Pid | Namespaces.User | Namespaces.Uts;

    /// <summary>RestrictNamespaces = true: no namespace of any type may be created or joined.</summary>
    public static readonly NamespaceRestriction Everything = new(false, Namespaces.None);

    /// <summary>The types the service may still create and join (systemd's "retain" set).</summary>
    public Namespaces Allowed => Invert ? Restrictable & ~Listed : Listed & Restrictable;
}

/// <summary>
/// RestrictAddressFamilies as written: an allow list of AF_* numbers, or with "~" a deny list.
/// "none" is an empty allow list (no socket() at all).
/// </summary>
public sealed record AddressFamilyRestriction(bool Invert, ValueList<int> Families)
{
    public static readonly AddressFamilyRestriction None = new(false, ValueList<int>.Empty);

    public bool IsNone => !Invert && Families.Count == 0;

    public bool Allows(int family) => Invert ? !Families.Contains(family) : Families.Contains(family);
}
