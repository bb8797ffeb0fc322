using Supervisor.Linux;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// Waits for processes to exit through their pidfds on the process's one <see cref="EventLoop"/>:
/// waiting for a hundred services costs no thread of its own. A pidfd becomes readable when its
/// process exits; the callback then reaps it without blocking.
/// </summary>
internal sealed class PidfdWatcher
{
    public static readonly Lazy<PidfdWatcher> Shared = new(() => new PidfdWatcher());

    /// <summary>Calls <paramref name="onExit"/> once, on the loop thread, when the process exits. Returns a token for <see cref="Cancel"/>.</summary>
    public ulong Watch(SafeFd pidfd, Action onExit) => EventLoop.Shared.Add(pidfd, _ => onExit(), once: true);

    /// <summary>Stops watching; false if the callback already ran (or is running).</summary>
    public bool Cancel(ulong token) => EventLoop.Shared.Remove(token);
}
