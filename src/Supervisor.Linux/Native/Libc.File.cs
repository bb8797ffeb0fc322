using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>
/// Raw file syscalls. cgroupfs wants one write() per value and exact errnos (EBUSY, EINVAL, ENODEV,
/// ESRCH) for its error messages and races, which FileStream hides behind exception types.
/// </summary>
public static partial class Libc
{
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_NOCTTY = 0x100;
    public const int O_APPEND = 0x400;
    public const int O_TRUNC = 0x200;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int O_DIRECTORY = 0x10000;
    public const int O_PATH = 0x200000;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETFL = 4;
    public const int SEEK_SET = 0;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    /// <summary>openat(2): <paramref name="path"/> NUL-terminated, resolved from <paramref name="dirfd"/> (kept alive for the call).</summary>
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    public static unsafe partial int Openat(SafeHandle dirfd, byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);

    /// <summary>fchmod(2); on an unbound AF_UNIX socket it sets the mode bind() gives the socket file.</summary>
    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(SafeHandle fd, uint mode);

    /// <summary>umask(2): sets the process's file mode creation mask, returns the old one (never fails).</summary>
    [LibraryImport("libc", EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Rmdir(string path);
}
