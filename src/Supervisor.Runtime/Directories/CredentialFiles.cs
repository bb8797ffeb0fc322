using Supervisor.Linux.Files;
using Supervisor.Sandbox;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Directories;

/// <summary>
/// LoadCredential and SetCredential on the host, as systemd's setup_credentials(): a fresh ramfs
/// on /run/credentials/UNIT (memory that is never swapped out; a plain directory where ramfs
/// cannot be mounted), the data written there by the supervisor as root, each file 0400 and the
/// directory 0500, both owned by the service's user, so nobody else but root can read them. The
/// source files need not be readable by the service: the supervisor reads them. SetCredential is
/// written first and LoadCredential after it, so a LoadCredential of the same ID wins (systemd's
/// rule). The whole is at most <see cref="Limits.MaxCredentialBytes"/>.
/// </summary>
internal static class CredentialFiles
{
    private const UnixFileMode CredentialMode = UnixFileMode.UserRead;                              // 0400
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserExecute; // 0500

    /// <summary>Whether the unit's credentials directory is there (written by an earlier command of this run).</summary>
    public static bool Present(UnitDefinition unit) => Directory.Exists(ServiceSection.CredentialsDirectoryOf(unit.Name));

    /// <summary>Writes the unit's credentials anew for a process that runs as <paramref name="uid"/>:<paramref name="gid"/>; returns a note when ramfs could not be used.</summary>
    public static string? Write(UnitDefinition unit, uint uid, uint gid)
    {
        var data = Collect(unit);
        var dir = ServiceSection.CredentialsDirectoryOf(unit.Name);
        Remove(unit);
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        Directory.CreateDirectory(dir, DirectoryMode);
        string? note = null;
        try
        {
            HostFiles.MountNew("ramfs", dir, "mode=0500");
        }
        catch (IOException e)
        {
            note = $"credentials: {e.Message}; they are kept in a plain directory of /run instead";
        }
        foreach (var (id, bytes) in data)
        {
            var file = Path.Combine(dir, id);
            using (var stream = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = CredentialMode }))
                stream.Write(bytes);
            HostFiles.Chown(file, uid, gid);
        }
        HostFiles.Chown(dir, uid, gid);
        File.SetUnixFileMode(dir, DirectoryMode);
        return note;
    }

    /// <summary>
    /// ID → data, SetCredential first, LoadCredential over it. A file that cannot be read fails the
    /// start with the key, ID and path, unless SetCredential gives the same ID (systemd's fallback);
    /// a credential searched in the stores and found nowhere is skipped, as systemd skips it.
    /// </summary>
    private static Dictionary<string, byte[]> Collect(UnitDefinition unit)
    {
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var c in unit.Service.SetCredential)
            data[c.Id] = c.Data;
        foreach (var c in unit.Service.LoadCredential)
        {
            try
            {
                if (c.Searched)
                    LoadSearched(c, data);
                else if (Directory.Exists(c.Path))
                {
                    // systemd: every regular file below the directory, as ID_NAME; symbolic links are ignored.
                    foreach (var f in new DirectoryInfo(c.Path).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
                        data[c.Id + "_" + f.Name] = File.ReadAllBytes(f.FullName);
                }
                else
                {
                    data[c.Id] = File.ReadAllBytes(c.Path);
                }
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && unit.Service.SetCredential.Any(s => s.Id == c.Id))
            {
                // The SetCredential of the same ID stands in for the missing file.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var cause = e is FileNotFoundException or DirectoryNotFoundException ? "it does not exist" : e.Message;
                throw new PlanCompileException(unit.Name, "LoadCredential", $"{unit.Name}: LoadCredential={c}: cannot read '{c.Path}': {cause}");
            }
        }
        long total = data.Values.Sum(d => (long)d.Length);
        if (total > Limits.MaxCredentialBytes)
            throw new PlanCompileException(unit.Name, "LoadCredential",
                $"{unit.Name}: LoadCredential/SetCredential: the credentials are {total} bytes together; a unit may have at most {Limits.MaxCredentialBytes} bytes (systemd's limit)");
        return data;
    }

    /// <summary>The first store that has the credential <see cref="CredentialSource.Path"/> gives it; none: nothing is added.</summary>
    private static void LoadSearched(CredentialSource c, Dictionary<string, byte[]> data)
    {
        foreach (var store in CredentialSource.SearchPath(Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY")))
        {
            var file = Path.Combine(store, c.Path);
            if (!File.Exists(file)) continue;
            data[c.Id] = File.ReadAllBytes(file);
            return;
        }
    }

    /// <summary>Unmounts and removes the unit's credentials directory; gone already is fine.</summary>
    public static void Remove(UnitDefinition unit)
    {
        var dir = ServiceSection.CredentialsDirectoryOf(unit.Name);
        // Detached: a process of the unit that still holds it open keeps its copy, nobody else.
        while (HostFiles.Unmount(dir)) { }
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
    }
}
