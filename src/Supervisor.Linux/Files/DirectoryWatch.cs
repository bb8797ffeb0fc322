using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Files;

/// <summary>What happened to an entry of a watched directory.</summary>
public enum DirectoryChange
{
    /// <summary>Written (IN_MODIFY): a writer has it open; its content is whole only once it is closed.</summary>
    Writing,
    /// <summary>A writer closed it (IN_CLOSE_WRITE): what it wrote is complete.</summary>
    Written,
    /// <summary>Created (IN_CREATE): a new regular file is written next, and closed.</summary>
    Created,
    /// <summary>Moved in (rename over it included), attributes changed, or a directory created.</summary>
    Appeared,
    /// <summary>Deleted or moved away.</summary>
    Gone,
    /// <summary>The kernel's queue overflowed: events were lost, anything may have changed.</summary>
    Overflow,
}

public readonly record struct DirectoryEvent(string Path, DirectoryChange Change);

/// <summary>
/// inotify on a directory and its direct subdirectories (those there now and those created later),
/// served by the shared <see cref="EventLoop"/>. Each time the queue is readable it is drained
/// (until EAGAIN) and everything read is handed over in one batch, so a burst of events costs one
/// callback, on the loop thread: the callback must only take note, never do the work itself.
/// </summary>
public sealed class DirectoryWatch : IDisposable
{
    private const uint Mask = Libc.IN_MODIFY | Libc.IN_CLOSE_WRITE | Libc.IN_ATTRIB | Libc.IN_CREATE | Libc.IN_DELETE
        | Libc.IN_MOVED_FROM | Libc.IN_MOVED_TO | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;
    private const int HeaderBytes = 16; // struct inotify_event: wd, mask, cookie, len; then len bytes of name

    private readonly SafeFd _fd;
    private readonly string _top;
    private readonly Action<IReadOnlyList<DirectoryEvent>> _onBatch;
    private readonly Dictionary<int, string> _dirs = [];
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly ulong _token;

    /// <exception cref="IOException">The directory cannot be watched (named, with the cause).</exception>
    public DirectoryWatch(string directory, Action<IReadOnlyList<DirectoryEvent>> onBatch)
    {
        _top = Path.GetFullPath(directory);
        _onBatch = onBatch;
        int fd = Libc.InotifyInit1(Libc.IN_CLOEXEC | Libc.IN_NONBLOCK);
        if (fd < 0) throw Failed("inotify_init1", _top, Marshal.GetLastPInvokeError());
        _fd = new SafeFd(fd);
        try
        {
            AddOrThrow(_top);
            foreach (var sub in Directory.EnumerateDirectories(_top)) TryAdd(sub);
            _token = EventLoop.Shared.Add(_fd, _ => Drain());
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    private static IOException Failed(string call, string path, int errno) =>
        new($"{call} '{path}' failed: {Errno.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})");

    private void AddOrThrow(string dir)
    {
        if (!TryAdd(dir)) throw Failed("inotify_add_watch", dir, Marshal.GetLastPInvokeError());
    }

    /// <summary>A subdirectory may vanish before it is watched: then there is nothing in it to watch.</summary>
    private bool TryAdd(string dir)
    {
        int wd = Libc.InotifyAddWatch(_fd.Fd, dir, Mask);
        if (wd < 0) return false;
        lock (_dirs) _dirs[wd] = dir;
        return true;
    }

    private void Drain()
    {
        var batch = new List<DirectoryEvent>();
        nint n;
        while ((n = Libc.Read(_fd.Fd, _buffer)) > 0) Parse(_buffer.AsSpan(0, (int)n), batch);
        if (batch.Count > 0) _onBatch(batch);
    }

    private void Parse(ReadOnlySpan<byte> chunk, List<DirectoryEvent> batch)
    {
        for (int off = 0; off + HeaderBytes <= chunk.Length;)
        {
            int wd = BinaryPrimitives.ReadInt32LittleEndian(chunk[off..]);
            uint mask = BinaryPrimitives.ReadUInt32LittleEndian(chunk[(off + 4)..]);
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(chunk[(off + 12)..]);
            var rawName = chunk.Slice(off + HeaderBytes, len);
            off += HeaderBytes + len;
            if ((mask & Libc.IN_Q_OVERFLOW) != 0)
            {
                batch.Add(new DirectoryEvent(_top, DirectoryChange.Overflow));
                continue;
            }
            string? dir;
            lock (_dirs)
            {
                if (!_dirs.TryGetValue(wd, out dir)) continue;
                if ((mask & Libc.IN_IGNORED) != 0) _dirs.Remove(wd); // the directory is gone: the kernel dropped its watch
            }
            int nul = rawName.IndexOf((byte)0);
            var name = Encoding.UTF8.GetString(nul < 0 ? rawName : rawName[..nul]);
            var path = name.Length > 0 ? Path.Combine(dir, name) : dir;
            if (Classify(mask, dir, path) is { } change) batch.Add(new DirectoryEvent(path, change));
        }
    }

    private DirectoryChange? Classify(uint mask, string dir, string path)
    {
        bool isDir = (mask & Libc.IN_ISDIR) != 0;
        if (isDir && dir == _top && (mask & (Libc.IN_CREATE | Libc.IN_MOVED_TO)) != 0) TryAdd(path);
        if ((mask & (Libc.IN_DELETE | Libc.IN_MOVED_FROM | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF)) != 0) return DirectoryChange.Gone;
        if ((mask & Libc.IN_CLOSE_WRITE) != 0) return DirectoryChange.Written;
        if ((mask & Libc.IN_CREATE) != 0)
            return !isDir && Statx.TryGet(path, follow: false, out var st, out _) && st.IsRegular ? DirectoryChange.Created : DirectoryChange.Appeared;
        if ((mask & Libc.IN_MODIFY) != 0) return isDir ? null : DirectoryChange.Writing;
        if ((mask & (Libc.IN_MOVED_TO | Libc.IN_ATTRIB)) != 0) return DirectoryChange.Appeared;
        return null;
    }

    public void Dispose()
    {
        // Out of the epoll set before the fd is closed (a closed fd number may be reused at once).
        EventLoop.Shared.Remove(_token);
        _fd.Dispose();
    }
}
