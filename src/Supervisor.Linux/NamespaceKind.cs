namespace Supervisor.Linux;

/// <summary>
/// The kernel's namespace kinds, once: the name units and systemd use, the name of the file in
/// /proc/PID/ns, and the CLONE_NEW* flag.
/// </summary>
public sealed record NamespaceKind(string Name, string ProcName, uint CloneFlag)
{
    /// <summary>Every kind, in the order unit files list them (the unit model's flag bits follow it).</summary>
    public static readonly IReadOnlyList<NamespaceKind> All =
    [
        new("pid", "pid", 0x20000000),
        new("net", "net", 0x40000000),
        new("mount", "mnt", 0x00020000),
        new("ipc", "ipc", 0x08000000),
        new("uts", "uts", 0x04000000),
        new("user", "user", 0x10000000),
        new("cgroup", "cgroup", 0x02000000),
        new("time", "time", 0x00000080),
    ];
}
