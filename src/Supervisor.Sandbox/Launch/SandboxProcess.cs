using Supervisor.Linux;
using System.Globalization;
using Supervisor.Linux.Proc;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// A started service: its pid and a pidfd for race-free signalling and waiting. With a pid
/// namespace, <see cref="Pid"/> is the namespace's init (the supervisor's child, which exits
/// with the service's status) and the service is its only child.
/// </summary>
public sealed class SandboxProcess : IDisposable
{
    private readonly SafeFd _pidfd;
    private ExitInfo? _exit;

    internal SandboxProcess(int pid, SafeFd pidfd, bool hasInit, IReadOnlyList<LsmKind> skippedLsm, SafeFd? initReports = null)
    {
        Pid = pid;
        _pidfd = pidfd;
        HasInit = hasInit;
        SkippedLsm = skippedLsm;
        InitReports = initReports;
    }

    /// <summary>
    /// <see cref="ExecPlan.InitReports"/>: the read end of the init's report pipe, records of
    /// <see cref="HelperProtocol.InitReportBytes"/> (pid in the namespace, wait status, flags) for
    /// every process the init reaps; EOF when the init has exited. The caller owns it.
    /// </summary>
    public SafeFd? InitReports { get; }

    /// <summary>
    /// <see cref="ExecPlan.SeccompNotify"/>: what answers the calls the process's filter reports,
    /// until every process under that filter has exited (it outlives this object). Null without a
    /// reporting filter, or when the helper did not hand the listener over.
    /// </summary>
    public DenialListener? SeccompListener { get; init; }

    /// <summary>The supervisor's child: the service, or the pid-namespace init in front of it.</summary>
    public int Pid { get; }

    /// <summary>
    /// A pid-namespace init stands between the supervisor and the service. The init exits with
    /// the service's exit code, or 128 + the signal that killed it, so a killed service shows up
    /// here as an exit code (143 for SIGTERM), exactly as a shell would report it.
    /// </summary>
    public bool HasInit { get; }

    /// <summary>LSM labels that were not applied because the LSM is off and the unit allowed skipping ("-").</summary>
    public IReadOnlyList<LsmKind> SkippedLsm { get; }

    public SafeFd PidFd => _pidfd;

    /// <summary>
    /// The pid (host namespace) of the service process itself, for inspection; null when it is
    /// gone. Under an init it is found as the init's child in /proc (CONFIG_PROC_CHILDREN is not
    /// on every kernel, so /proc/PID/stat is scanned for the parent pid).
    /// </summary>
    public int? FindServicePid()
    {
        if (!HasInit)
            return Directory.Exists($"/proc/{Pid}") ? Pid : null;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                continue;
            // null: exited while we looked.
            if (ProcStat.TryRead(pid) is { } stat && stat.ParentPid == Pid)
                return pid;
        }
        return null;
    }

    /// <summary>Sends a signal; false if the process has already exited.</summary>
    public bool Signal(int signal) => _exit is null && Pidfd.Signal(_pidfd, signal);

    /// <summary>Blocks until the process exits and reaps it; null if the timeout passed first.</summary>
    public ExitInfo? WaitForExit(TimeSpan? timeout = null)
    {
        lock (_reapLock)
            if (_exit is { } done)
                return done;
        int ms = timeout is { } t ? (int)Math.Min(int.MaxValue, t.TotalMilliseconds) : -1;
        if (!Pidfd.PollExited(_pidfd, ms))
            return null;
        return Reap(noHang: false);
    }

    /// <summary>
    /// Completes when the process exits (reaped through its pidfd). Many waits share one epoll
    /// thread, so no thread is blocked per service.
    /// </summary>
    public Task<ExitInfo> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        if (TryGetExitStatus(out var done))
            return Task.FromResult(done);
        var tcs = new TaskCompletionSource<ExitInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcher = PidfdWatcher.Shared.Value;
        ulong token = 0;
        token = watcher.Watch(_pidfd, () =>
        {
            try
            {
                tcs.TrySetResult(WaitForExit(TimeSpan.Zero) ?? throw new InvalidOperationException("the pidfd was readable but the process had not exited"));
            }
            catch (Exception e)
            {
                tcs.TrySetException(e);
            }
            lock (_reapLock)
                _pending.Remove(token);
        });
        lock (_reapLock)
            _pending[token] = tcs;
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() =>
            {
                if (watcher.Cancel(token))
                {
                    lock (_reapLock)
                        _pending.Remove(token);
                    tcs.TrySetCanceled(cancellationToken);
                }
            });
            tcs.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return tcs.Task;
    }

    /// <summary>Reaps without blocking; false if it is still running.</summary>
    public bool TryGetExitStatus(out ExitInfo status)
    {
        if (_exit is null)
            Reap(noHang: true);
        status = _exit ?? default;
        return _exit is not null;
    }

    private ExitInfo? Reap(bool noHang)
    {
        lock (_reapLock)
            return ReapLocked(noHang);
    }

    private readonly Lock _reapLock = new();
    private readonly Dictionary<ulong, TaskCompletionSource<ExitInfo>> _pending = [];

    private ExitInfo? ReapLocked(bool noHang)
    {
        if (_exit is { } done)
            return done;
        _exit = Pidfd.Wait(_pidfd, noHang);
        return _exit;
    }

    /// <summary>Closes the pidfd; the process keeps running. Pending asynchronous waits fail with ObjectDisposedException.</summary>
    public void Dispose()
    {
        KeyValuePair<ulong, TaskCompletionSource<ExitInfo>>[] pending;
        lock (_reapLock)
        {
            pending = [.. _pending];
            _pending.Clear();
        }
        foreach (var (token, tcs) in pending)
        {
            PidfdWatcher.Shared.Value.Cancel(token);
            tcs.TrySetException(new ObjectDisposedException(nameof(SandboxProcess)));
        }
        _pidfd.Dispose();
    }
}
