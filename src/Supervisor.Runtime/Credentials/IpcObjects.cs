using System.Globalization;
using Supervisor.Linux.Native;

namespace Supervisor.Runtime.Credentials;

/// <summary>The kinds of IPC object RemoveIPC removes, as the unit's log names them.</summary>
public enum IpcKind { SharedMemory, Semaphores, MessageQueue, PosixSharedMemory, PosixMessageQueue }

/// <summary>One IPC object and its owner: a System V id, or a path in /dev/shm or the mqueue file system.</summary>
public sealed record IpcObject(IpcKind Kind, string Id, uint Uid, uint Gid, int Attached = 0);

/// <summary>
/// The host's IPC objects by owner, read the way ipcs(1) does (/proc/sysvipc/shm, sem, msg), plus
/// POSIX shared memory (files in /dev/shm) and POSIX message queues (files of a mounted mqueue
/// file system, usually /dev/mqueue), and their removal, as systemd's clean-ipc.c does for
/// RemoveIPC=. The objects of the supervisor's IPC namespace: a unit with its own loses its
/// objects with the namespace anyway.
/// </summary>
public sealed class IpcObjects(string sysvipc = "/proc/sysvipc", string posixShm = "/dev/shm", string? mqueue = null)
{
    private const uint StatxGid = 0x10; // STATX_GID

    /// <summary>Where the mqueue file system is mounted in our mount namespace, or null when it is not.</summary>
    public string? MessageQueueMount { get; } = mqueue ?? FindMqueueMount();

    /// <summary>Every object whose owner (not creator) is <paramref name="uid"/> or whose group is <paramref name="gid"/>; null matches nothing.</summary>
    public IEnumerable<IpcObject> OwnedBy(uint? uid, uint? gid) =>
        All().Where(o => (uid is { } u && o.Uid == u) || (gid is { } g && o.Gid == g));

    public IEnumerable<IpcObject> All() =>
        SysV("shm", IpcKind.SharedMemory, "shmid").Concat(SysV("sem", IpcKind.Semaphores, "semid")).Concat(SysV("msg", IpcKind.MessageQueue, "msqid"))
            .Concat(Files(posixShm, IpcKind.PosixSharedMemory)).Concat(MessageQueueMount is { } mq ? Files(mq, IpcKind.PosixMessageQueue) : []);

    /// <summary>
    /// Removes one object; null when it is gone (or was gone already: a process of another unit may
    /// have removed it meanwhile), else why it could not be. A System V shared memory segment still
    /// attached is left alone, as systemd does: its users are not this unit's (the unit is stopped).
    /// </summary>
    public static string? Remove(IpcObject o)
    {
        int errno = o.Kind switch
        {
            IpcKind.SharedMemory => Libc.RemoveSharedMemory(int.Parse(o.Id, CultureInfo.InvariantCulture)),
            IpcKind.Semaphores => Libc.RemoveSemaphores(int.Parse(o.Id, CultureInfo.InvariantCulture)),
            IpcKind.MessageQueue => Libc.RemoveMessageQueue(int.Parse(o.Id, CultureInfo.InvariantCulture)),
            _ => RemoveFile(o.Id),
        };
        return errno is 0 or Libc.EIDRM or Linux.Errno.EINVAL or Linux.Errno.ENOENT ? null : Linux.Errno.Name(errno);
    }

    private static int RemoveFile(string path)
    {
        try
        {
            // Not followed: a symbolic link in /dev/shm is removed itself, never what it points to.
            if (Directory.Exists(path) && !new DirectoryInfo(path).Attributes.HasFlag(FileAttributes.ReparsePoint))
                Directory.Delete(path, recursive: true);
            else
                File.Delete(path);
            return 0;
        }
        catch (DirectoryNotFoundException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return Linux.Errno.EACCES;
        }
        catch (IOException)
        {
            return Linux.Errno.EBUSY;
        }
    }

    /// <summary>/proc/sysvipc/KIND: a header naming the columns, then one object per line.</summary>
    private IEnumerable<IpcObject> SysV(string file, IpcKind kind, string idColumn)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(sysvipc, file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break; // a kernel without System V IPC
        }
        if (lines.Length == 0) yield break;
        var header = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int id = Array.IndexOf(header, idColumn), uid = Array.IndexOf(header, "uid"), gid = Array.IndexOf(header, "gid"), attached = Array.IndexOf(header, "nattch");
        if (id < 0 || uid < 0 || gid < 0) yield break;
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != header.Length) continue;
            yield return new IpcObject(kind, f[id], uint.Parse(f[uid], CultureInfo.InvariantCulture), uint.Parse(f[gid], CultureInfo.InvariantCulture),
                attached >= 0 ? int.Parse(f[attached], CultureInfo.InvariantCulture) : 0);
        }
    }

    /// <summary>The entries of /dev/shm or the mqueue mount, with their owners (lstat: a link is its own entry).</summary>
    private static IEnumerable<IpcObject> Files(string directory, IpcKind kind)
    {
        if (!Directory.Exists(directory)) return [];
        var result = new List<IpcObject>();
        try
        {
            foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
                if (Libc.StatX(Libc.AT_FDCWD, entry.FullName, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_UID | StatxGid, out var st) == 0)
                    result.Add(new IpcObject(kind, entry.FullName, st.Uid, st.Gid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The directory changed while being read: what was seen is what is reported.
        }
        return result;
    }

    /// <summary>The mount point of the first mqueue file system in /proc/self/mountinfo ("… - mqueue …").</summary>
    private static string? FindMqueueMount()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var dash = line.IndexOf(" - ", StringComparison.Ordinal);
                if (dash < 0 || !line.AsSpan(dash + 3).StartsWith("mqueue ")) continue;
                return line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal);
            }
        }
        catch (IOException)
        {
        }
        return null;
    }
}
