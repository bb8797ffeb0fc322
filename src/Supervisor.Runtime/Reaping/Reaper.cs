using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Runtime.Process;
using Supervisor.Supervision;

namespace Supervisor.Runtime.Reaping;

/// <summary>
/// The daemon's single owner of child reaping, served by the process's one <see cref="EventLoop"/>.
/// A watched child (a main process, a control command, a forking daemon's main process) gets a
/// pidfd in the loop: when it exits, the loop thread reaps it and hands the status to whoever
/// watches it, with no signal handler, pipe or thread-pool hop between a crash and the supervisor
/// knowing (most of a restart's latency otherwise). The daemon is a child subreaper, so orphans of
/// its services become its children too: SIGCHLD wakes the loop (through an eventfd) to reap the
/// unwatched ones. A pid cannot be reused before we reap it, so a watch by pid is exact; an exit
/// reaped before its watch is registered (a process that dies at once) is kept until it comes.
/// </summary>
public sealed class Reaper : IDisposable
{
    private const int MaxEarly = 4096;

    private readonly object _gate = new();
    private readonly Dictionary<int, Action<ExitInfo>> _watches = [];
    private readonly Dictionary<int, ExitInfo> _early = [];
    private readonly SafeFd _wake;
    private readonly ulong _wakeToken;
    private readonly PosixSignalRegistration _sigchld;
    private int _launches;

    public Reaper()
    {
        ProcessControl.BecomeSubreaper();
        int efd = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (efd < 0) throw new IOException($"eventfd: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _wake = new SafeFd(efd);
        _wakeToken = EventLoop.Shared.Add(_wake, _ =>
        {
            Span<byte> drain = stackalloc byte[8];
            Libc.Read(_wake.Fd, drain);
            ReapUnwatched();
        });
        _sigchld = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
        {
            ctx.Cancel = false; // the runtime's own SIGCHLD handling runs too (it waits for nothing of ours)
            if (AnyExited()) Wake();
        });
    }

    /// <summary>
    /// Whether any child is left to reap, looked at without reaping (this runs on a pool thread).
    /// A watched child's exit usually reached the loop through its pidfd, and was reaped there,
    /// before the signal's callback runs: then the loop is not woken a second time to find nothing.
    /// </summary>
    private static bool AnyExited() =>
        Libc.WaitId(Libc.P_ALL, 0, out var peek, Libc.WEXITED | Libc.WNOHANG | Libc.WNOWAIT) == 0 && peek.Pid != 0;

    private void Wake()
    {
        Span<byte> one = stackalloc byte[8];
        one[0] = 1;
        Libc.Write(_wake.Fd, one);
    }

    /// <summary>
    /// Calls <paramref name="onExit"/> once when <paramref name="pid"/>, a child of ours, exits.
    /// <paramref name="pidfd"/>: the process's own pidfd when the caller holds one (and keeps it
    /// open until the exit), so a unit costs no second descriptor; otherwise one is opened.
    /// </summary>
    public void Watch(int pid, Action<ExitInfo> onExit, SafeHandle? pidfd = null)
    {
        ExitInfo exit;
        lock (_gate)
        {
            if (!_early.Remove(pid, out exit))
            {
                _watches[pid] = onExit;
                WatchPidfd(pid, pidfd);
                return;
            }
        }
        onExit(exit);
    }

    /// <summary>The child's pidfd in the loop; if it cannot be had, the SIGCHLD sweep reaps the child instead.</summary>
    private void WatchPidfd(int pid, SafeHandle? borrowed)
    {
        SafeFd? owned = null;
        if (borrowed is null)
        {
            int fd = Libc.PidfdOpen(pid, 0);
            if (fd < 0)
            {
                Wake();
                return;
            }
            owned = new SafeFd(fd);
        }
        try
        {
            EventLoop.Shared.Add(borrowed ?? owned!, _ =>
            {
                using (owned) Reap(pid);
            }, once: true);
        }
        catch (IOException)
        {
            owned?.Dispose();
            Wake();
        }
    }

    /// <summary>Reaps <paramref name="pid"/> if it has exited and delivers its status to its watch.</summary>
    private void Reap(int pid)
    {
        Action<ExitInfo>? callback;
        ExitInfo exit;
        lock (_gate)
        {
            if (Libc.WaitId(Libc.P_PID, pid, out var info, Libc.WEXITED | Libc.WNOHANG) != 0 || info.Pid == 0) return;
            exit = ExitInfo.FromSigInfo(info);
            if (!_watches.Remove(pid, out callback)) File(pid, exit);
        }
        callback?.Invoke(exit);
    }

    /// <summary>
    /// Every exited child nobody watches (orphans of the services), and watched ones whose pidfd
    /// could not be opened. While a launch is in progress unwatched children are left alone: the
    /// launcher may reap its own helper after a setup failure.
    /// </summary>
    private void ReapUnwatched()
    {
        while (true)
        {
            int pid;
            lock (_gate)
            {
                // WNOWAIT: see who exited without reaping, so a child someone else waits for is left alone.
                if (Libc.WaitId(Libc.P_ALL, 0, out var peek, Libc.WEXITED | Libc.WNOHANG | Libc.WNOWAIT) != 0 || peek.Pid == 0) return;
                pid = peek.Pid;
                if (!_watches.ContainsKey(pid) && Volatile.Read(ref _launches) > 0) return; // looked at again when the launch ends
            }
            Reap(pid);
        }
    }

    /// <summary>An exit before its watch: kept for it (bounded, as unwatched orphans would pile up).</summary>
    private void File(int pid, ExitInfo exit)
    {
        _early[pid] = exit;
        if (_early.Count > MaxEarly)
            foreach (var k in _early.Keys.Take(MaxEarly / 4).ToList()) _early.Remove(k);
    }

    /// <summary>
    /// While a launch is in progress the launcher may reap its own helper after a setup failure;
    /// unknown children are left alone until it is done, so the launcher never finds its child gone.
    /// </summary>
    public IDisposable Launching()
    {
        Interlocked.Increment(ref _launches);
        return new LaunchScope(this);
    }

    private sealed class LaunchScope(Reaper reaper) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0 && Interlocked.Decrement(ref reaper._launches) == 0)
                reaper.Wake();
        }
    }

    public void Dispose()
    {
        _sigchld.Dispose();
        EventLoop.Shared.Remove(_wakeToken);
        _wake.Dispose();
    }
}
