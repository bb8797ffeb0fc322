using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Events;

/// <summary>
/// Waits for a notification fd (inotify, eventfd) to become readable, drains it and calls back.
/// All watches are served by the process's one <see cref="EventLoop"/>, so a thousand units' OOM
/// and empty watches cost no thread of their own; there is no timer and no busy loop.
/// </summary>
internal sealed class FdWatch : IDisposable
{
    private const int DrainBytes = 4096;

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
        _token = Register(this, name);
    }

    public FdWatch(SafeFd fd, ReadChunk onData, string name)
    {
        _fd = fd;
        _onData = onData;
        _token = Register(this, name);
    }

    /// <summary>Drains the fd (non-blocking: until EAGAIN, so one wake-up covers a burst) and calls back.</summary>
    private void Fire()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        Span<byte> buffer = stackalloc byte[DrainBytes];
        try
        {
            nint n;
            while ((n = Libc.Read(_fd.Fd, buffer)) > 0)
            {
                _onData?.Invoke(buffer[..(int)n]);
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
        EventLoop.Shared.Remove(_token);
        _fd.Dispose();
    }

    private static ulong Register(FdWatch watch, string name)
    {
        try
        {
            return EventLoop.Shared.Add(watch._fd, _ => watch.Fire());
        }
        catch (IOException e)
        {
            throw new CgroupIoException("epoll_ctl", name, Marshal.GetLastPInvokeError(), e.Message);
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
