using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>
/// O_PATH descriptors on the directories that hold cgroups (a slice's directory in each hierarchy),
/// so that a stat file is opened with openat(parent, "UNIT/FILE"): a two-component lookup in kernfs
/// instead of the walk of every component of /sys/fs/cgroup/CONTROLLER/ROOT/SLICE/UNIT/FILE, which
/// was a quarter of a 1000-unit scrape's CPU (issue 18). One descriptor per parent directory, never
/// one per unit or per file: with 1000 units and 7 v1 hierarchies that would be thousands of the
/// daemon's RLIMIT_NOFILE (what is held here is counted by FdBudget's count of /proc/self/fd anyway).
/// A parent removed and made again (a slice emptied and recreated) leaves its descriptor on the dead
/// directory, where every lookup fails with ENOENT: a required file that is not found is therefore
/// tried once more from a freshly opened parent, and the stale descriptor dropped. Closing a dropped
/// descriptor waits for calls still using it (SafeHandle reference counts), so a concurrent reader
/// never opens relative to a reused descriptor number.
/// </summary>
internal sealed class ParentDirectories
{
    /// <summary>Beyond this many parents (slices × hierarchies) a read takes the full path instead.</summary>
    internal const int MaxHeld = 256;
    private const int MaxRelativeBytes = 512;

    private readonly ConcurrentDictionary<string, SafeFd> _held = new(StringComparer.Ordinal);

    /// <summary>Descriptors held now (for tests and the fd accounting).</summary>
    public int Count => _held.Count;

    /// <summary>
    /// Reads <paramref name="dir"/>/<paramref name="file"/> (one seq_file record) into
    /// <paramref name="buffer"/>; the length, or -1 with <paramref name="errno"/>.
    /// <paramref name="retryStale"/>: a file that must exist, so ENOENT may be a stale parent.
    /// </summary>
    public int ReadInto(string dir, string file, ref byte[] buffer, out int errno, bool retryStale)
    {
        int slash = dir.LastIndexOf('/');
        Span<byte> relative = stackalloc byte[MaxRelativeBytes];
        int length = slash <= 0 ? -1 : RelativePath(dir.AsSpan(slash + 1), file, relative);
        if (length < 0)
        {
            return CgroupFs.ReadInto(Path.Join(dir, file), ref buffer, out errno, singleRecord: true);
        }
        var parentPath = dir.AsSpan(0, slash);
        var parent = Get(parentPath, out errno);
        if (parent is null)
        {
            return errno == 0 ? CgroupFs.ReadInto(Path.Join(dir, file), ref buffer, out errno, singleRecord: true) : -1;
        }
        int fd = Libc.Openat(parent, relative[..length], Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (!(retryStale && Errno.IsVanished(errno)))
            {
                return -1;
            }
            Drop(parentPath, parent);
            parent = Get(parentPath, out errno);
            if (parent is null)
            {
                return errno == 0 ? CgroupFs.ReadInto(Path.Join(dir, file), ref buffer, out errno, singleRecord: true) : -1;
            }
            fd = Libc.Openat(parent, relative[..length], Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return -1;
            }
        }
        try
        {
            return CgroupFs.ReadAll(fd, ref buffer, out errno, singleRecord: true);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>"UNIT/FILE\0" in UTF-8, or -1 when it does not fit (then the full path is used).</summary>
    private static int RelativePath(ReadOnlySpan<char> unit, string file, Span<byte> into)
    {
        int need = Encoding.UTF8.GetMaxByteCount(unit.Length + file.Length + 1) + 1;
        if (need > into.Length || unit.IsEmpty)
        {
            return -1;
        }
        int n = Encoding.UTF8.GetBytes(unit, into);
        into[n++] = (byte)'/';
        n += Encoding.UTF8.GetBytes(file, into[n..]);
        into[n++] = 0;
        return n;
    }

    /// <summary>The held descriptor of <paramref name="parentPath"/>, opened when new; null with errno when it
    /// cannot be opened, null with errno 0 when too many are held (the caller reads by full path).</summary>
    private SafeFd? Get(ReadOnlySpan<char> parentPath, out int errno)
    {
        errno = 0;
        var lookup = _held.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(parentPath, out var held))
        {
            return held;
        }
        if (_held.Count >= MaxHeld)
        {
            return null;
        }
        var path = parentPath.ToString();
        int fd = Libc.Open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        var handle = new SafeFd(fd);
        if (_held.TryAdd(path, handle))
        {
            return handle;
        }
        handle.Dispose();
        return _held.TryGetValue(path, out held) ? held : Get(parentPath, out errno);
    }

    private void Drop(ReadOnlySpan<char> parentPath, SafeFd stale)
    {
        if (_held.TryRemove(new KeyValuePair<string, SafeFd>(parentPath.ToString(), stale)))
        {
            stale.Dispose();
        }
    }
}
