using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Supervisor.Linux.Files;

/// <summary>
/// open(2) with flags .NET does not offer: a unit file is opened with O_NONBLOCK, so that a FIFO
/// swapped in after the type check cannot block the reader (FileStream would wait for a writer forever).
/// </summary>
public static partial class Open
{
    private const int ORdOnly = 0x0;
    private const int ONoCtty = 0x100;       // 0400: a terminal device never becomes our controlling tty
    private const int ONonBlock = 0x800;     // 04000
    private const int OCloExec = 0x80000;    // 02000000

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    /// <summary>Opens <paramref name="path"/> read-only and non-blocking, or returns the errno.</summary>
    public static SafeFileHandle? ReadOnlyNonBlocking(string path, out int errno)
    {
        int fd = OpenNative(path, ORdOnly | ONonBlock | OCloExec | ONoCtty);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
