using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Events;

/// <summary>
/// Tells when a file holding a declared limit is written, by anyone: one inotify instance
/// (IN_MODIFY; every write(2) to a cgroup file raises it) for all units, on the shared event thread.
/// Drift is then repaired when it happens, with no periodic re-reading of thousands of files.
/// </summary>
internal sealed class LimitWriteWatcher
{
    public static readonly Lazy<LimitWriteWatcher> Shared = new(() => new LimitWriteWatcher());

    private readonly SafeFd _inotify;
    private readonly FdWatch _watch;
    private readonly object _gate = new();
    // One watch descriptor per file (inode); several registrations may share it.
    private readonly Dictionary<int, List<Registration>> _byWd = [];

    private LimitWriteWatcher()
    {
        int fd = Libc.InotifyInit1(Libc.IN_CLOEXEC | Libc.IN_NONBLOCK);
        if (fd < 0)
        {
            throw new CgroupIoException("inotify_init1", "cgroup limit files", Marshal.GetLastPInvokeError());
        }
        _inotify = new SafeFd(fd);
        _watch = new FdWatch(_inotify, OnEvents, "cgroup limit writes");
    }

    private sealed class Registration(LimitWriteWatcher owner, Action onWritten) : IDisposable
    {
        public Action OnWritten { get; } = onWritten;
        public List<int> Wds { get; } = [];

        public void Dispose() => owner.Remove(this);
    }

    /// <summary>Calls <paramref name="onWritten"/> (on the event thread) after any write to any of <paramref name="files"/>.</summary>
    public IDisposable Watch(IEnumerable<string> files, Action onWritten)
    {
        var registration = new Registration(this, onWritten);
        lock (_gate)
        {
            foreach (var file in files)
            {
                int wd = Libc.InotifyAddWatch(_inotify.Fd, file, Libc.IN_MODIFY);
                if (wd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    RemoveLocked(registration);
                    throw new CgroupIoException("inotify_add_watch", file, errno);
                }
                if (!_byWd.TryGetValue(wd, out var list))
                {
                    _byWd[wd] = list = [];
                }
                list.Add(registration);
                registration.Wds.Add(wd);
            }
        }
        return registration;
    }

    private void Remove(Registration registration)
    {
        lock (_gate)
        {
            RemoveLocked(registration);
        }
    }

    private void RemoveLocked(Registration registration)
    {
        foreach (var wd in registration.Wds)
        {
            if (_byWd.TryGetValue(wd, out var list) && list.Remove(registration) && list.Count == 0)
            {
                _byWd.Remove(wd);
                Libc.InotifyRmWatch(_inotify.Fd, wd); // EINVAL if the cgroup is gone already: fine
            }
        }
        registration.Wds.Clear();
    }

    /// <summary>struct inotify_event: wd, mask, cookie, len, then len bytes of name.</summary>
    private void OnEvents(ReadOnlySpan<byte> chunk)
    {
        var due = new HashSet<Registration>();
        lock (_gate)
        {
            for (int off = 0; off + 16 <= chunk.Length;)
            {
                int wd = BinaryPrimitives.ReadInt32LittleEndian(chunk[off..]);
                uint mask = BinaryPrimitives.ReadUInt32LittleEndian(chunk[(off + 4)..]);
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(chunk[(off + 12)..]);
                off += 16 + len;
                if (!_byWd.TryGetValue(wd, out var list))
                {
                    continue;
                }
                if ((mask & Libc.IN_IGNORED) != 0)
                {
                    // The file went away (its cgroup was removed): the kernel dropped the watch.
                    foreach (var r in list)
                    {
                        r.Wds.Remove(wd);
                    }
                    _byWd.Remove(wd);
                    continue;
                }
                foreach (var r in list)
                {
                    due.Add(r);
                }
            }
        }
        // Callbacks outside the lock: they read and write cgroup files (which raises more events).
        foreach (var r in due)
        {
            r.OnWritten();
        }
    }
}
