using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Supervisor.Runtime.Interop;
using Supervisor.Supervision;

namespace Supervisor.Runtime.Reaping;

/// <summary>
/// The daemon's single owner of child reaping. It is a child subreaper, so orphaned daemons of its
/// services are its children too. A dedicated thread sleeps in waitid() until a child exits, reaps
/// every exited child and hands the status to whoever watches that pid, on that thread: no signal
/// handler, pipe or thread-pool hop between a crash and the supervisor knowing (this is most of a
/// restart's latency otherwise). A pid cannot be reused before we reap it, so a watch by pid is
/// exact. An exit that arrives before its watch is registered (a process that dies at once) is
/// kept until the watch comes.
/// </summary>
public sealed class Reaper : IDisposable
{
    private readonly ConcurrentDictionary<int, Action<ExitInfo>> _watches = new();
    private readonly ConcurrentDictionary<int, ExitInfo> _early = new();
    private readonly PosixSignalRegistration _registration;
    private readonly object _gate = new();
    private int _launches;
    private volatile bool _disposed;

    public Reaper()
    {
        ProcessCalls.BecomeSubreaper();
        // Only a wake-up for the thread when it found no child at all (children normally come from
        // launches, which wake it themselves); it never reaps here.
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
        {
            ctx.Cancel = false; // the runtime's own SIGCHLD handling runs too (it waits for nothing of ours)
            Wake();
        });
        new Thread(Loop) { IsBackground = true, Name = "reaper" }.Start();
    }

    private void Wake()
    {
        lock (_gate) Monitor.PulseAll(_gate);
    }

    private void Loop()
    {
        while (!_disposed)
        {
            int err = ProcessCalls.WaitForAnyExit();
            if (err == ProcessCalls.EINTR) continue;
            if (err != 0)
            {
                // ECHILD: no children now. Sleep until a launch or a SIGCHLD says there may be.
                lock (_gate)
                {
                    if (_disposed) return;
                    Monitor.Wait(_gate);
                }
                continue;
            }
            if (!ReapAll())
            {
                // The exited child is not ours to reap yet (a launch in progress reaps its own
                // helper after a setup failure): wait for the launch to end, then look again.
                lock (_gate)
                {
                    while (Volatile.Read(ref _launches) > 0 && !_disposed) Monitor.Wait(_gate);
                }
            }
        }
    }

    /// <summary>Calls <paramref name="onExit"/> once when <paramref name="pid"/> exits.</summary>
    public void Watch(int pid, Action<ExitInfo> onExit)
    {
        ExitInfo exit;
        // Under the reaping lock: otherwise a reap that has just looked for a watch (none yet) and
        // is about to file the exit as early could interleave with this registration, and the exit
        // would be filed after we looked for it: lost (seen in the test suite about once in 50 runs).
        lock (_gate)
        {
            if (!_early.TryRemove(pid, out exit))
            {
                _watches[pid] = onExit;
                return;
            }
        }
        onExit(exit);
    }

    /// <summary>
    /// While a launch is in progress the launcher may reap its own helper after a setup failure;
    /// unknown children are left alone until it is done, so the launcher never finds its child gone.
    /// </summary>
    public IDisposable Launching()
    {
        Interlocked.Increment(ref _launches);
        Wake(); // the thread may be asleep for want of children
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

    /// <summary>Reaps every exited child it may; false if an exited child had to be left (a launch owns it).</summary>
    public bool ReapAll()
    {
        bool any = false;
        lock (_gate)
        {
            while (ProcessCalls.TryReapAny(out int pid, out int code, out int status, pid => _watches.ContainsKey(pid) || Volatile.Read(ref _launches) == 0))
            {
                any = true;
                var exit = code switch
                {
                    ProcessCalls.CLD_EXITED => ExitInfo.Exited(status),
                    ProcessCalls.CLD_DUMPED => ExitInfo.Killed(status, core: true),
                    _ => ExitInfo.Killed(status),
                };
                if (_watches.TryRemove(pid, out var cb)) cb(exit);
                else
                {
                    _early[pid] = exit;
                    // Unwatched orphans would pile up here forever; keep a bounded number.
                    if (_early.Count > 4096)
                        foreach (var k in _early.Keys.Take(1024)) _early.TryRemove(k, out _);
                }
            }
        }
        return any;
    }

    public void Dispose()
    {
        _disposed = true;
        Wake();
        _registration.Dispose();
    }
}
