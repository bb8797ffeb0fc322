using Supervisor.Linux.Files;
using Supervisor.Sandbox;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Directories;

/// <summary>
/// RuntimeDirectory, StateDirectory, CacheDirectory, LogsDirectory and ConfigurationDirectory on
/// the host, as systemd's setup_exec_directory(): each entry is created with its parents (the
/// parents root's, 0755), the innermost directory given to the service's user and group
/// (ConfigurationDirectory stays root's) and then its *Mode — chown first, because chown clears
/// a setgid bit such as RuntimeDirectoryMode=2755's. An existing directory is reused; when its
/// owner is not the one wanted, the whole tree below it is chowned, and when it already is, what
/// is below is left as it is (systemd's optimisation). Symbolic links are never followed while
/// chowning (lchown, no descent into a linked directory), so a service cannot make the supervisor
/// chown a file outside its directory.
/// </summary>
internal static class ExecDirectories
{
    /// <summary>Creates every managed directory of the unit for a process that runs as <paramref name="uid"/>:<paramref name="gid"/>.</summary>
    public static void Create(UnitDefinition unit, uint uid, uint gid)
    {
        foreach (var (type, path, mode) in unit.Service.ManagedDirectories())
        {
            var (u, g) = type.OwnedByService ? (uid, gid) : (0u, 0u);
            try
            {
                Prepare(path, u, g, mode);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PlanCompileException(unit.Name, type.Key, $"{unit.Name}: {type.Key}: cannot prepare '{path}': {e.Message}");
            }
        }
    }

    private static void Prepare(string path, uint uid, uint gid, uint mode)
    {
        if (File.Exists(path) && !Directory.Exists(path))
            throw new IOException($"it exists and is not a directory");
        if (!Directory.Exists(path))
        {
            // Parents as systemd makes them: 0755, root's (the supervisor's own umask may be stricter).
            var parent = Path.GetDirectoryName(path)!;
            if (!Directory.Exists(parent))
                Directory.CreateDirectory(parent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Directory.CreateDirectory(path);
            HostFiles.Chown(path, uid, gid);
        }
        else if (HostFiles.Owner(path) is not { } owner || owner != (uid, gid))
        {
            ChownTree(path, uid, gid);
        }
        File.SetUnixFileMode(path, (UnixFileMode)mode);
    }

    /// <summary>PATH and everything below it, without following symbolic links.</summary>
    private static void ChownTree(string path, uint uid, uint gid)
    {
        HostFiles.Chown(path, uid, gid);
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(path));
        while (pending.Count > 0)
        {
            foreach (var entry in pending.Pop().EnumerateFileSystemInfos())
            {
                HostFiles.Chown(entry.FullName, uid, gid);
                if (entry is DirectoryInfo dir && dir.LinkTarget is null)
                    pending.Push(dir);
            }
        }
    }

    /// <summary>
    /// Removes the unit's RuntimeDirectory entries (the innermost directories only: "foo/bar"
    /// removes /run/foo/bar and leaves /run/foo, as systemd). A directory that is gone already is fine.
    /// </summary>
    public static void RemoveRuntime(UnitDefinition unit, Action<string, string> log)
    {
        var type = ExecDirectoryType.All.First(t => t.Kind == ExecDirectoryKind.Runtime);
        foreach (var entry in unit.Service.RuntimeDirectory)
        {
            var path = type.PathOf(entry);
            try
            {
                if (new DirectoryInfo(path) is { Exists: true, LinkTarget: null })
                    Directory.Delete(path, recursive: true);
                else if (new FileInfo(path).LinkTarget is not null)
                    File.Delete(path); // a link someone put there: the link goes, never what it points at
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log(unit.Name, $"RuntimeDirectory: cannot remove '{path}': {e.Message}");
            }
        }
    }
}
