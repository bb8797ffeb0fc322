using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>pipe2(2), and whole-buffer reads and writes on a pipe end that retry on EINTR.</summary>
public static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int pipe2(int* fds, int flags);

    /// <summary>pipe2(O_CLOEXEC) as two owned handles.</summary>
    public static (SafeFd Read, SafeFd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
            throw new IOException($"pipe2 failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>Reads until EOF, retrying on EINTR.</summary>
    public static byte[] ReadToEnd(SafeFd fd)
    {
        var result = new MemoryStream();
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            for (;;)
            {
                nint n = Read(fd.Fd, p, buf.Length);
                if (n < 0)
                {
                    int e = Marshal.GetLastPInvokeError();
                    if (e == Errno.EINTR)
                        continue;
                    throw new IOException($"read failed: {Marshal.GetPInvokeErrorMessage(e)}");
                }
                if (n == 0)
                    return result.ToArray();
                result.Write(buf, 0, (int)n);
            }
        }
    }

    /// <summary>Writes all bytes; returns the errno that stopped it (EPIPE if the reader is gone), or 0.</summary>
    public static int WriteAll(SafeFd fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int off = 0;
            while (off < data.Length)
            {
                nint n = Write(fd.Fd, p + off, data.Length - off);
                if (n < 0)
                {
                    int e = Marshal.GetLastPInvokeError();
                    if (e == Errno.EINTR)
                        continue;
                    return e;
                }
                off += (int)n;
            }
        }
        return 0;
    }
}
