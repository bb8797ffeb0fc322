using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// The supervisor's epoll event loop: a single thread sleeping in epoll_wait(2) that serves
/// every readiness watch of the process (but the D-Bus server's, which has a loop of its own,
/// <see cref="Dedicated"/>): the reaper's pidfds and its SIGCHLD wake-up, the cgroup
/// OOM and empty events, and the limit-file inotify watches. A thousand units cost one thread, no
/// timer and no busy loop. Callbacks run on the loop thread, so they must be short and must not
/// block; a callback that throws ends only its own watch.
/// </summary>
public sealed unsafe class EventLoop
{
    private const int MaxEventsPerWait = 64;
    public const uint Readable = Libc.EPOLLIN;

    private static readonly Lazy<EventLoop> SharedLoop = new(() => new EventLoop("event loop"));

    /// <summary>A callback threw (its watch has ended); for the daemon's log.</summary>
    public static event Action<Exception>? Faulted;

    /// <summary>The process-wide loop.</summary>
    public static EventLoop Shared => SharedLoop.Value;

    /// <summary>
    /// A loop on a thread of its own, for watches whose callbacks do more than a loop shared
    /// with the reaper may (the D-Bus server answers calls on its loop). The thread lives as long
    /// as the process: make one per purpose, not one per object.
    /// </summary>
    public static EventLoop Dedicated(string name) => new(name);

    private readonly SafeFd _epoll;
    private readonly Dictionary<ulong, Registration> _watches = [];
    private ulong _next;
    private int _threadId;

    /// <summary>True in a callback of this loop (on its thread): work there delays every other watch of the loop.</summary>
    public bool OnLoopThread => Volatile.Read(ref _threadId) == Environment.CurrentManagedThreadId;

    private sealed record Registration(SafeHandle Fd, Action<uint> Callback, bool Once, Action? Ended);

    private EventLoop(string name)
    {
        int fd = Libc.EpollCreate(Libc.EPOLL_CLOEXEC);
        if (fd < 0) throw new IOException($"epoll_create1: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _epoll = new SafeFd(fd);
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>
    /// Calls <paramref name="callback"/> on the loop thread whenever <paramref name="fd"/> is
    /// readable (level-triggered: drain it), or once only with <paramref name="once"/>. An error or
    /// hang-up without data ends the watch, and then calls <paramref name="ended"/> (on the loop
    /// thread), so the owner can let go of the fd. Returns the token for <see cref="Remove"/>.
    /// With <paramref name="edgeTriggered"/> the callback runs when the fd becomes readable (new
    /// data arrived), not again while unread data remains: the owner reads until EAGAIN.
    /// </summary>
    public ulong Add(SafeHandle fd, Action<uint> callback, bool once = false, Action? ended = null, bool edgeTriggered = false)
    {
        ulong token;
        lock (_watches)
        {
            token = ++_next;
            _watches[token] = new Registration(fd, callback, once, ended);
        }
        // The token, not the fd number, identifies the registration: fd numbers are reused.
        uint events = Libc.EPOLLIN | (once ? Libc.EPOLLONESHOT : 0) | (edgeTriggered ? Libc.EPOLLET : 0);
        if (Libc.EpollControl(_epoll.Fd, Libc.EPOLL_CTL_ADD, (int)fd.DangerousGetHandle(), events, token) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            lock (_watches) _watches.Remove(token);
            throw new IOException($"epoll_ctl(ADD): {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return token;
    }

    /// <summary>
    /// Calls <paramref name="callback"/> once, on the loop thread, when <paramref name="fd"/>
    /// reports a hang-up or an error (no event is asked for: epoll always reports EPOLLHUP and
    /// EPOLLERR). Returns the token for <see cref="Remove"/>, or 0 when the fd cannot be polled
    /// (EPERM: a regular file or a directory), which then is never reported.
    /// </summary>
    public ulong AddHangup(SafeHandle fd, Action callback)
    {
        ulong token;
        lock (_watches)
        {
            token = ++_next;
            _watches[token] = new Registration(fd, _ => callback(), Once: true, Ended: null);
        }
        if (Libc.EpollControl(_epoll.Fd, Libc.EPOLL_CTL_ADD, (int)fd.DangerousGetHandle(), Libc.EPOLLONESHOT, token) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            lock (_watches) _watches.Remove(token);
            if (errno == Errno.EPERM) return 0;
            throw new IOException($"epoll_ctl(ADD): {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return token;
    }

    /// <summary>Ends a watch (before its fd is closed: a closed fd number may be reused at once). False if it had ended.</summary>
    public bool Remove(ulong token)
    {
        Registration? r;
        lock (_watches)
        {
            if (!_watches.Remove(token, out r)) return false;
        }
        // EBADF/ENOENT: the fd was closed meanwhile, which removed it from epoll already.
        if (!r.Fd.IsClosed) Libc.EpollControl(_epoll.Fd, Libc.EPOLL_CTL_DEL, (int)r.Fd.DangerousGetHandle(), 0, 0);
        return true;
    }

    private void Run()
    {
        var events = stackalloc byte[MaxEventsPerWait * 16];
        Volatile.Write(ref _threadId, Environment.CurrentManagedThreadId);
        while (true)
        {
            int n = Libc.EpollWait(_epoll.Fd, events, MaxEventsPerWait, -1);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == Errno.EINTR) continue;
                return;
            }
            for (int i = 0; i < n; i++) Dispatch(Libc.EpollDataAt(events, i), Libc.EpollEventsAt(events, i));
        }
    }

    private void Dispatch(ulong token, uint events)
    {
        Registration? r;
        lock (_watches)
        {
            if (!_watches.TryGetValue(token, out r)) return;
            if (r.Once) _watches.Remove(token);
        }
        if (!r.Once && (events & Libc.EPOLLIN) == 0)
        {
            // Error or hang-up without data: the object behind the fd is gone. Level-triggered, it
            // would otherwise wake the loop forever.
            if (Remove(token)) Ended(r);
            return;
        }
        try
        {
            r.Callback(events);
        }
        catch (Exception e)
        {
            // The loop serves everyone: a failing watch ends, the loop goes on.
            if (!r.Once) Remove(token);
            Faulted?.Invoke(e);
        }
    }

    private static void Ended(Registration r)
    {
        try
        {
            r.Ended?.Invoke();
        }
        catch (Exception e)
        {
            Faulted?.Invoke(e);
        }
    }
}
