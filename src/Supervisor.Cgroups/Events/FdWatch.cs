using System.Runtime.InteropServices;
using Supervisor.Cgroups.Interop;

namespace Supervisor.Cgroups.Events;

/// <summary>
/// A dedicated thread that waits for a notification fd (inotify, eventfd) to become readable,
/// drains it and calls back. A second eventfd wakes it for disposal, so there is no timer and no
/// busy loop: the thread sleeps in poll(2) until the kernel has something to say.
/// </summary>
internal sealed class FdWatch : IDisposable
{
    private const int DrainBytes = 4096;

    private readonly SafeFd _fd;
    private readonly SafeFd _wake;
    private readonly Action _onReadable;
    private readonly Thread _thread;
    private int _disposed;

    public FdWatch(SafeFd fd, Action onReadable, string name)
    {
        _fd = fd;
        _onReadable = onReadable;
        int wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (wake < 0)
        {
            throw new CgroupIoException("eventfd", name, Marshal.GetLastPInvokeError());
        }
        _wake = new SafeFd(wake);
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    private unsafe void Loop()
    {
        var fds = stackalloc Libc.PollFd[2];
        var buffer = stackalloc byte[DrainBytes];
        while (Volatile.Read(ref _disposed) == 0)
        {
            fds[0] = new Libc.PollFd { Fd = _fd.Fd, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = _wake.Fd, Events = Libc.POLLIN };
            int n = Libc.Poll(fds, 2, -1);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                {
                    continue;
                }
                return;
            }
            if (fds[1].Revents != 0)
            {
                return;
            }
            if ((fds[0].Revents & Libc.POLLIN) == 0)
            {
                // POLLERR/POLLHUP without data: the object behind the fd is gone.
                return;
            }
            // Non-blocking fd: read until EAGAIN so one wake-up covers a burst of events.
            while (Libc.Read(_fd.Fd, buffer, DrainBytes) > 0)
            {
            }
            try
            {
                _onReadable();
            }
            catch (CgroupException)
            {
                // The callback reads cgroup files; when the cgroup is being removed that read fails.
                // The owner sees the removal through its own means; the watch just stays quiet.
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        unsafe
        {
            ulong one = 1;
            Libc.Write(_wake.Fd, (byte*)&one, sizeof(ulong));
        }
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
        _fd.Dispose();
        _wake.Dispose();
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
