namespace Supervisor.Runtime.Reconcile;

/// <summary>
/// Names, sizes and times of the unit files, drop-ins, /etc/passwd and /etc/group: a stat each, no
/// reading. The timer compares it to skip a reconcile when nothing a plan depends on changed.
/// </summary>
public static class UnitFilesFingerprint
{
    public static long Of(string unitsDirectory)
    {
        var hash = new HashCode();
        void Add(FileSystemInfo f)
        {
            hash.Add(f.FullName, StringComparer.Ordinal);
            hash.Add(f.LastWriteTimeUtc.Ticks);
            if (f is FileInfo file) hash.Add(file.Length);
        }
        try
        {
            foreach (var entry in new DirectoryInfo(unitsDirectory).EnumerateFileSystemInfos())
            {
                Add(entry);
                if (entry is DirectoryInfo dropIns)
                    foreach (var dropIn in dropIns.EnumerateFileSystemInfos()) Add(dropIn);
            }
            foreach (var db in new[] { "/etc/passwd", "/etc/group" })
                if (File.Exists(db)) Add(new FileInfo(db));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DateTime.UtcNow.Ticks; // cannot tell: treat as changed
        }
        var value = hash.ToHashCode();
        return value == 0 ? 1 : value;
    }
}
