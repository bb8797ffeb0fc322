using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Files;

/// <summary>
/// open(2) with flags .NET does not offer: a unit file is opened with O_NONBLOCK, so that a FIFO
/// swapped in after the type check cannot block the reader (FileStream would wait for a writer forever).
/// </summary>
public static class Open
{
    /// <summary>Opens <paramref name="path"/> read-only and non-blocking, or returns the errno.</summary>
    public static SafeFileHandle? ReadOnlyNonBlocking(string path, out int errno)
    {
        // O_NOCTTY: a terminal device never becomes our controlling tty.
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
