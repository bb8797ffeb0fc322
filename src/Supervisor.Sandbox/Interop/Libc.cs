using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>Plain libc calls on file descriptors and processes.</summary>
internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CLOEXEC = 0x80000;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int EINTR = 4;
    public const int ESRCH = 3;
    public const int SIGKILL = 9;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int memfd_create(string name, uint flags);

    public const uint MFD_CLOEXEC = 1;

    /// <summary>pipe2(O_CLOEXEC) as two owned handles.</summary>
    public static (SafeFdHandle Read, SafeFdHandle Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
            throw new IOException($"pipe2 failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (new SafeFdHandle(fds[0]), new SafeFdHandle(fds[1]));
    }

    /// <summary>Reads until EOF, retrying on EINTR.</summary>
    public static byte[] ReadToEnd(SafeFdHandle fd)
    {
        var result = new MemoryStream();
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            for (;;)
            {
                nint n = read(fd.Fd, p, buf.Length);
                if (n < 0)
                {
                    int e = Marshal.GetLastPInvokeError();
                    if (e == EINTR)
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
    public static int WriteAll(SafeFdHandle fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int off = 0;
            while (off < data.Length)
            {
                nint n = write(fd.Fd, p + off, data.Length - off);
                if (n < 0)
                {
                    int e = Marshal.GetLastPInvokeError();
                    if (e == EINTR)
                        continue;
                    return e;
                }
                off += (int)n;
            }
        }
        return 0;
    }

    /// <summary>Reaps a child, retrying on EINTR; returns the raw wait status.</summary>
    public static int Reap(int pid)
    {
        int status;
        for (;;)
        {
            if (waitpid(pid, &status, 0) >= 0)
                return status;
            int e = Marshal.GetLastPInvokeError();
            if (e != EINTR)
                throw new IOException($"waitpid {pid} failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
    }
}
