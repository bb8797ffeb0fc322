using Supervisor.Linux;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// A process this supervisor did not start (adopted after a supervisor restart): not our child,
/// so its exit status cannot be collected, but its pidfd says when it is gone and signals it
/// without the risk of a reused pid.
/// </summary>
public sealed class ForeignProcess : IDisposable
{
    private readonly SafeFd _pidfd;

    public int Pid { get; }

    private ForeignProcess(int pid, SafeFd pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
    }

    /// <summary>Opens a pidfd on <paramref name="pid"/>; throws IOException when it no longer exists.</summary>
    public static ForeignProcess Open(int pid) => new(pid, Pidfd.Open(pid));

    /// <summary>Calls <paramref name="onExit"/> once when the process has exited (on the shared watcher thread, no thread of its own).</summary>
    public void OnExit(Action onExit) => PidfdWatcher.Shared.Value.Watch(_pidfd, onExit);

    public bool Signal(int signal) => Pidfd.Signal(_pidfd, signal);

    public void Dispose() => _pidfd.Dispose();
}
