namespace Supervisor.Runtime.Launch;

/// <summary>
/// Where the units' processes are started: threads of the daemon's own that do nothing else, up
/// to <see cref="Width"/> at once. A start blocks until the helper has exec'd the service (on
/// cgroup v1 its joins wait for an RCU grace period when no migration happened lately), so on the
/// thread pool a burst (1000 units at boot) ran about as many starts at once as the pool had
/// threads, two on a 2-CPU host, while the pool added more only slowly (it cannot see a thread
/// blocked in read(2)). Here a burst runs <see cref="Width"/> wide from its first start and
/// the helpers' waits overlap. A thread left idle for <see cref="IdleExit"/> ends, but the last
/// one stays, so a restart wakes a thread that is already there.
/// </summary>
internal sealed class LaunchQueue
{
    /// <summary>How long a thread beyond the first waits for work before it ends.</summary>
    public static readonly TimeSpan IdleExit = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private readonly Queue<Action> _work = new();
    private int _threads;
    private int _idle;

    /// <param name="width">At most this many starts at once; default: 8 per CPU, between 8 and 64.</param>
    public LaunchQueue(int? width = null)
    {
        Width = width ?? Math.Clamp(Environment.ProcessorCount * 8, 8, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(Width, 1);
    }

    public int Width { get; }

    /// <summary>Threads that exist now (for tests and the profile).</summary>
    public int Threads
    {
        get
        {
            lock (_gate) return _threads;
        }
    }

    /// <summary>Runs <paramref name="launch"/> on a launch thread: an idle one, a new one while fewer than <see cref="Width"/> exist, else the next one free.</summary>
    public void Enqueue(Action launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        lock (_gate)
        {
            _work.Enqueue(launch);
            if (_idle > 0) Monitor.Pulse(_gate);
            // More starts waiting than idle threads to take them (a woken thread counts as idle until it runs).
            if (_work.Count <= _idle || _threads >= Width) return;
            _threads++;
        }
        new Thread(Serve) { IsBackground = true, Name = "launch" }.Start();
    }

    private void Serve()
    {
        while (Next() is { } launch)
            launch();
    }

    /// <summary>The next start to run; null when this thread has been idle long enough to end.</summary>
    private Action? Next()
    {
        lock (_gate)
        {
            while (_work.Count == 0)
            {
                _idle++;
                bool woken = Monitor.Wait(_gate, IdleExit);
                _idle--;
                if (!woken && _work.Count == 0 && _threads > 1)
                {
                    _threads--;
                    return null;
                }
            }
            return _work.Dequeue();
        }
    }
}
