using System.Runtime.InteropServices;
using Supervisor.Sandbox.Interop;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// One background thread waits on every registered pidfd with epoll, so waiting for a hundred
/// services costs one thread, not a hundred blocked pool threads. A pidfd becomes readable when
/// its process exits; the callback then reaps it without blocking.
/// </summary>
internal sealed unsafe class PidfdWatcher
{
    private const int MaxEventsPerWait = 64;

    public static readonly Lazy<PidfdWatcher> Shared = new(() => new PidfdWatcher());

    private readonly SafeFdHandle _epoll;
    private readonly Dictionary<ulong, (SafeFdHandle Fd, Action Callback)> _waiting = [];
    private ulong _nextToken;

    private PidfdWatcher()
    {
        int fd = Epoll.epoll_create1(Epoll.EPOLL_CLOEXEC);
        if (fd < 0)
            throw new IOException($"epoll_create1 failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _epoll = new SafeFdHandle(fd);
        new Thread(Loop) { IsBackground = true, Name = "pidfd watcher" }.Start();
    }

    /// <summary>Calls <paramref name="onExit"/> once, on the watcher thread, when the process exits. Returns a token for <see cref="Cancel"/>.</summary>
    public ulong Watch(SafeFdHandle pidfd, Action onExit)
    {
        ulong token;
        lock (_waiting)
        {
            token = ++_nextToken;
            _waiting[token] = (pidfd, onExit);
        }
        // The token, not the fd number, identifies the registration: fd numbers are reused.
        if (Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_ADD, pidfd.Fd, Epoll.EPOLLIN | Epoll.EPOLLONESHOT, token) < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            lock (_waiting)
                _waiting.Remove(token);
            throw new IOException($"epoll_ctl(ADD) of a pidfd failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
        return token;
    }

    /// <summary>Stops watching; false if the callback already ran (or is running).</summary>
    public bool Cancel(ulong token)
    {
        (SafeFdHandle Fd, Action Callback) entry;
        lock (_waiting)
        {
            if (!_waiting.Remove(token, out entry))
                return false;
        }
        // EBADF/ENOENT: the pidfd was closed meanwhile, which removed it from epoll already.
        if (!entry.Fd.IsClosed)
            Epoll.Control(_epoll.Fd, Epoll.EPOLL_CTL_DEL, entry.Fd.Fd, 0, 0);
        return true;
    }

    private void Loop()
    {
        var events = new byte[MaxEventsPerWait * 16];
        for (;;)
        {
            int n;
            fixed (byte* p = events)
                n = Epoll.epoll_wait(_epoll.Fd, p, MaxEventsPerWait, -1);
            if (n < 0)
                continue; // EINTR
            for (int i = 0; i < n; i++)
            {
                ulong token;
                fixed (byte* p = events)
                    token = Epoll.DataAt(p, i);
                Action? callback = null;
                lock (_waiting)
                {
                    if (_waiting.Remove(token, out var entry))
                        callback = entry.Callback;
                }
                callback?.Invoke();
            }
        }
    }
}
