using Supervisor.Linux;

namespace Supervisor.Supervision.Notify;

/// <summary>
/// What one sd_notify message asks of the unit's fd store (systemd.service(5) FileDescriptorStoreMax=,
/// sd_pid_notify_with_fds(3)): keep <see cref="Fds"/> (FDSTORE=1) under <see cref="Name"/>, and/or
/// drop the descriptors stored under <see cref="Name"/> (FDSTOREREMOVE=1). The request owns the
/// descriptors until the host takes them; disposing it closes what was not taken, so a message
/// NotifyAccess refuses (or one held and dropped) leaks nothing.
/// </summary>
public sealed class FdStoreRequest(IReadOnlyList<SafeFd> fds, bool store, bool remove, string? name, bool poll) : IDisposable
{
    public IReadOnlyList<SafeFd> Fds { get; } = fds;
    public bool Store { get; } = store;
    public bool Remove { get; } = remove;
    /// <summary>FDNAME= as sent (null: none); its validity is checked where it is used, with systemd's messages.</summary>
    public string? Name { get; } = name;
    /// <summary>False with FDPOLL=0: a stored descriptor that hangs up stays stored.</summary>
    public bool Poll { get; } = poll;

    public void Dispose()
    {
        foreach (var fd in Fds) fd.Dispose();
    }
}
