using System.Runtime.InteropServices;
using Supervisor.Cgroups.Interop;

namespace Supervisor.Cgroups.Events;

/// <summary>
/// Waits for a notification fd (inotify, eventfd) to become readable, drains it and calls back.
/// All watches share one thread sleeping in epoll_wait(2), so a thousand units' OOM and empty
/// watches cost one thread, not a thousand; there is no timer and no busy loop.
/// </summary>
internal sealed class FdWatch : IDisposable
{
    private const int DrainBytes = 4096;
    private const int MaxEventsPerWait = 64;

    private static readonly Lazy<Loop> Shared = new(() => new Loop());

    private readonly SafeFd _fd;
    private readonly Action? _onReadable;
    private readonly ReadChunk? _onData;
    private readonly ulong _token;
    private int _disposed;

    /// <summary>Receives each chunk read from the fd (for fds whose content matters: inotify events).</summary>
    public delegate void ReadChunk(ReadOnlySpan<byte> chunk);

    public FdWatch(SafeFd fd, Action onReadable, string name)
    {
        _fd = fd;
        _onReadable = onReadable;
        _token = Shared.Value.Add(this, name);
    }

    public FdWatch(SafeFd fd, ReadChunk onData, string name)
    {
        _fd = fd;
        _onData = onData;
        _token = Shared.Value.Add(this, name);
    }

    /// <summary>Drains the fd (non-blocking: until EAGAIN, so one wake-up covers a burst) and calls back.</summary>
    private unsafe void Fire()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        var buffer = stackalloc byte[DrainBytes];
        try
        {
            nint n;
            while ((n = Libc.Read(_fd.Fd, buffer, DrainBytes)) > 0)
            {
                _onData?.Invoke(new ReadOnlySpan<byte>(buffer, (int)n));
            }
            _onReadable?.Invoke();
        }
        catch (CgroupException)
        {
            // The callback reads cgroup files; when the cgroup is being removed that read fails.
            // The owner sees the removal through its own means; the watch just stays quiet.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // Out of the epoll set before the fd is closed (a closed fd number may be reused at once).
        Shared.Value.Remove(_token, _fd);
        _fd.Dispose();
    }

    private sealed unsafe class Loop
    {
        private readonly SafeFd _epoll;
        private readonly Dictionary<ulong, FdWatch> _watches = [];
        private ulong _next;

        public Loop()
        {
            int fd = Libc.EpollCreate(Libc.EPOLL_CLOEXEC);
            if (fd < 0)
            {
                throw new CgroupIoException("epoll_create1", "cgroup event watches", Marshal.GetLastPInvokeError());
            }
            _epoll = new SafeFd(fd);
            new Thread(Run) { IsBackground = true, Name = "cgroup events" }.Start();
        }

        public ulong Add(FdWatch watch, string name)
        {
            ulong token;
            lock (_watches)
            {
                token = ++_next;
                _watches[token] = watch;
            }
            // The token, not the fd number, identifies the registration: fd numbers are reused.
            if (Libc.EpollControl(_epoll.Fd, Libc.EPOLL_CTL_ADD, watch._fd.Fd, Libc.EPOLLIN, token) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                lock (_watches)
                {
                    _watches.Remove(token);
                }
                throw new CgroupIoException("epoll_ctl", name, errno);
            }
            return token;
        }

        public void Remove(ulong token, SafeFd fd)
        {
            lock (_watches)
            {
                _watches.Remove(token);
            }
            Libc.EpollControl(_epoll.Fd, Libc.EPOLL_CTL_DEL, fd.Fd, 0, 0);
        }

        private void Run()
        {
            var events = stackalloc byte[MaxEventsPerWait * 16];
            while (true)
            {
                int n = Libc.EpollWait(_epoll.Fd, events, MaxEventsPerWait, -1);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }
                    return;
                }
                for (int i = 0; i < n; i++)
                {
                    ulong token = Libc.EpollDataAt(events, i);
                    FdWatch? watch;
                    lock (_watches)
                    {
                        _watches.TryGetValue(token, out watch);
                    }
                    if (watch is null)
                    {
                        continue;
                    }
                    if ((Libc.EpollEventsAt(events, i) & Libc.EPOLLIN) == 0)
                    {
                        // Error or hang-up without data: the object behind the fd is gone. Stop
                        // watching it (level-triggered, it would otherwise wake us forever).
                        Remove(token, watch._fd);
                        continue;
                    }
                    watch.Fire();
                }
            }
        }
    }

    /// <summary>An inotify instance watching one file for IN_MODIFY (cgroup.events, memory.events).</summary>
    public static SafeFd InotifyModify(string file)
    {
        int fd = Libc.InotifyInit1(Libc.IN_CLOEXEC | Libc.IN_NONBLOCK);
        if (fd < 0)
        {
            throw new CgroupIoException("inotify_init1", file, Marshal.GetLastPInvokeError());
        }
        var handle = new SafeFd(fd);
        if (Libc.InotifyAddWatch(fd, file, Libc.IN_MODIFY) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new CgroupIoException("inotify_add_watch", file, errno);
        }
        return handle;
    }

    /// <summary>
    /// v1 memory OOM notification: an eventfd registered through cgroup.event_control as
    /// "&lt;eventfd&gt; &lt;fd of memory.oom_control&gt;". The kernel signals it when the group enters OOM
    /// and when the cgroup is removed.
    /// </summary>
    public static SafeFd V1OomEventFd(CgroupFs fs, string memoryDir)
    {
        var control = Path.Combine(memoryDir, "memory.oom_control");
        int efd = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (efd < 0)
        {
            throw new CgroupIoException("eventfd", control, Marshal.GetLastPInvokeError());
        }
        var handle = new SafeFd(efd);
        int ofd = Libc.Open(control, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (ofd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new CgroupIoException("open", control, errno);
        }
        // The kernel takes its own reference to memory.oom_control during registration, so our fd
        // can be closed right after.
        using var oomControl = new SafeFd(ofd);
        try
        {
            fs.Write(Path.Combine(memoryDir, "cgroup.event_control"), $"{efd} {ofd}");
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return handle;
    }
}
