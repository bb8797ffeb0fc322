using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Supervisor.Cli.Interop;
using Supervisor.Supervision;

namespace Supervisor.Cli.Runtime;

/// <summary>
/// The daemon's single owner of child reaping. It is a child subreaper, so orphaned daemons of its
/// services are its children too. On SIGCHLD it reaps every exited child and hands the status to
/// whoever watches that pid. A pid cannot be reused before we reap it, so a watch by pid is exact.
/// An exit that arrives before its watch is registered (a process that dies at once) is kept
/// until the watch comes.
/// </summary>
public sealed class Reaper : IDisposable
{
    private readonly ConcurrentDictionary<int, Action<ExitInfo>> _watches = new();
    private readonly ConcurrentDictionary<int, ExitInfo> _early = new();
    private readonly PosixSignalRegistration _registration;
    private readonly object _gate = new();
    private int _launches;

    public Reaper()
    {
        ProcessCalls.BecomeSubreaper();
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
        {
            // Let the runtime's own SIGCHLD handling run too (it waits for nothing of ours).
            ctx.Cancel = false;
            ThreadPool.UnsafeQueueUserWorkItem(_ => ReapAll(), null);
        });
        // Children that exited before the handler existed.
        ReapAll();
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
        return new LaunchScope(this);
    }

    private sealed class LaunchScope(Reaper reaper) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0 && Interlocked.Decrement(ref reaper._launches) == 0)
                reaper.ReapAll();
        }
    }

    public void ReapAll()
    {
        lock (_gate)
        {
            while (ProcessCalls.TryReapAny(out int pid, out int code, out int status, pid => _watches.ContainsKey(pid) || Volatile.Read(ref _launches) == 0))
            {
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
    }

    public void Dispose() => _registration.Dispose();
}
