namespace Supervisor.Linux.Native;

/// <summary>read(2), write(2) and openat(2) on spans, so callers outside this layer need no unsafe code.</summary>
public static partial class Libc
{
    public static unsafe nint Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer) return Read(fd, p, buffer.Length);
    }

    /// <summary>openat(2) of a UTF-8 path that must end with a NUL byte.</summary>
    public static unsafe int Openat(System.Runtime.InteropServices.SafeHandle dirfd, ReadOnlySpan<byte> nulTerminatedPath, int flags)
    {
        if (nulTerminatedPath.IsEmpty || nulTerminatedPath[^1] != 0) throw new ArgumentException("the path must end with a NUL byte", nameof(nulTerminatedPath));
        fixed (byte* p = nulTerminatedPath) return Openat(dirfd, p, flags, 0);
    }

    public static unsafe nint Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer) return Write(fd, p, buffer.Length);
    }
}
