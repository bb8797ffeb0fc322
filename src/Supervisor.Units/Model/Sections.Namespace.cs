namespace Supervisor.Units.Model;

/// <summary>
/// [Sandbox], namespace directives under systemd's names and the filesystem view around them.
/// The Private* switches and <see cref="Namespaces"/> name the same kernel namespaces: a unit gets
/// the union of both (<see cref="EffectiveNamespaces"/>). PrivateUsers is the exception: it is a
/// user namespace with systemd's identity mapping, not the shifted one of <c>Namespaces = ["user"]</c>.
/// </summary>
public sealed partial record SandboxSection
{
    /// <summary>Own network namespace with only a loopback interface, brought up (systemd's PrivateNetwork=).</summary>
    public bool PrivateNetwork { get; init; }
    /// <summary>Own IPC namespace (System V IPC and POSIX message queues), with its own /dev/mqueue.</summary>
    public bool PrivateIPC { get; init; }
    /// <summary>Own mount namespace, even without any filesystem setting.</summary>
    public bool PrivateMounts { get; init; }
    /// <summary>Own pid namespace and its own /proc (systemd 257's PrivatePIDs=).</summary>
    public bool PrivatePIDs { get; init; }
    /// <summary>A user namespace mapping only root, the service's user and groups, and nobody, each to itself.</summary>
    public bool PrivateUsers { get; init; }

    /// <summary>Paths (and everything below) where nothing may be executed.</summary>
    public ValueList<OptionalPath> NoExecPaths { get; init; } = ValueList<OptionalPath>.Empty;
    /// <summary>Paths where execution is allowed again, below a NoExecPaths entry.</summary>
    public ValueList<OptionalPath> ExecPaths { get; init; } = ValueList<OptionalPath>.Empty;
    /// <summary>Empty tmpfs mounts over these paths.</summary>
    public ValueList<TemporaryFileSystem> TemporaryFileSystem { get; init; } = ValueList<TemporaryFileSystem>.Empty;

    /// <summary>The namespaces the unit asks for: <see cref="Namespaces"/> and the Private* switches (PrivateUsers is reported apart).</summary>
    public Namespaces EffectiveNamespaces =>
        Namespaces
        | (PrivateNetwork ? Namespaces.Net : Namespaces.None)
        | (PrivateIPC ? Namespaces.Ipc : Namespaces.None)
        | (PrivateMounts ? Namespaces.Mount : Namespaces.None)
        | (PrivatePIDs ? Namespaces.Pid : Namespaces.None)
        | (PrivateUsers ? Namespaces.User : Namespaces.None);

    /// <summary>
    /// Where the sandbox mounts an empty, writable filesystem of its own, in the order it mounts
    /// them: /dev (PrivateDevices), /tmp and /var/tmp (PrivateTmp), the ProtectHome="tmpfs"
    /// directories, then TemporaryFileSystem (outer paths first). Paths as the service sees them;
    /// <paramref name="existsInView"/> says whether a path exists there before the sandbox is built
    /// (PrivateTmp and ProtectHome skip a directory that does not). A mount point below one of these
    /// can be created without touching the host; any other must already exist. The sandbox
    /// compiler mounts exactly these, and <c>check</c> judges mount points by the same list.
    /// </summary>
    public IReadOnlyList<string> FreshFileSystems(Func<string, bool> existsInView)
    {
        var result = new List<string>();
        if (PrivateDevices) result.Add("/dev");
        if (PrivateTmp) result.AddRange(new[] { "/tmp", "/var/tmp" }.Where(existsInView));
        if (ProtectHome == ProtectHome.Tmpfs) result.AddRange(new[] { "/home", "/root", "/run/user" }.Where(existsInView));
        result.AddRange(TemporaryFileSystemsInMountOrder.Select(t => t.Path));
        return result;
    }

    /// <summary>TemporaryFileSystem sorted as systemd mounts it: a path before the paths below it.</summary>
    public IEnumerable<TemporaryFileSystem> TemporaryFileSystemsInMountOrder =>
        TemporaryFileSystem.OrderBy(t => t.Path.Count(c => c == '/') - (t.Path == "/" ? 1 : 0)).ThenBy(t => t.Path, StringComparer.Ordinal);

    /// <summary>The last of <paramref name="fresh"/> mounted at or above <paramref name="path"/>, or null.</summary>
    public static string? FreshFileSystemAbove(IReadOnlyList<string> fresh, string path) => fresh.LastOrDefault(f => PathIsAtOrBelow(path, f));

    /// <summary>Whether <paramref name="path"/> is <paramref name="dir"/> or lies below it ("/tmpx" is not below "/tmp").</summary>
    public static bool PathIsAtOrBelow(string path, string dir) =>
        path == dir || dir == "/" || path.StartsWith(dir + "/", StringComparison.Ordinal);
}

/// <summary>
/// One TemporaryFileSystem entry, "path[:options]" as in systemd: a tmpfs (mode 0755 unless
/// given) over <see cref="Path"/>. Options are mount options: ro, rw, noexec, exec, nosuid,
/// nodev, mode=, size=, nr_inodes=, uid=, gid=.
/// </summary>
public sealed record TemporaryFileSystem(string Path, ValueList<string> Options)
{
    public bool ReadOnly => Last("ro", "rw") == "ro";
    public bool NoExec => Last("noexec", "exec") == "noexec";
    /// <summary>The mode= option as a number, or 0755 (systemd's default for these mounts).</summary>
    public uint Mode => Options.LastOrDefault(o => o.StartsWith("mode=", StringComparison.Ordinal)) is { } m
        ? Convert.ToUInt32(m["mode=".Length..], 8) : 0x1ED;
    /// <summary>The options the tmpfs itself takes (size, nr_inodes, uid, gid), comma-separated.</summary>
    public string Data => string.Join(',', Options.Where(o => o.Contains('=') && !o.StartsWith("mode=", StringComparison.Ordinal)));

    private string? Last(string on, string off) => Options.LastOrDefault(o => o == on || o == off);

    public override string ToString() => Options.Count == 0 ? Path : $"{Path}:{string.Join(',', Options)}";
}
