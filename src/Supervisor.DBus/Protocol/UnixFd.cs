using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Supervisor.DBus;

/// <summary>
/// A file descriptor that travels with a message (type 'h'). Received fds are owned by
/// this object until <see cref="Take"/> hands the handle to the caller; fds nobody takes
/// are closed when the message is disposed.
/// </summary>
public sealed class UnixFd : IDisposable
{
    private SafeHandle? _handle;
    private readonly int _fd;

    public UnixFd(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (handle.IsInvalid || handle.IsClosed) throw new ArgumentException("the handle is invalid or closed", nameof(handle));
        _handle = handle;
        _fd = (int)handle.DangerousGetHandle();
    }

    internal static UnixFd FromReceived(int fd) => new(new SafeFileHandle(fd, ownsHandle: true));

    /// <summary>The descriptor number (still valid only while the handle is open).</summary>
    public int Fd => _fd;

    /// <summary>The handle, or null once taken or disposed.</summary>
    public SafeHandle? Handle => _handle;

    /// <summary>Transfers ownership of the fd to the caller, who must dispose it.</summary>
    public SafeHandle Take() =>
        Interlocked.Exchange(ref _handle, null) ?? throw new InvalidOperationException($"fd {_fd} was already taken or closed");

    public void Dispose() => Interlocked.Exchange(ref _handle, null)?.Dispose();

    public override string ToString() => $"fd {_fd}";
}
