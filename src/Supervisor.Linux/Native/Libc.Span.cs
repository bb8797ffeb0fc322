namespace Supervisor.Linux.Native;

/// <summary>read(2) and write(2) on spans, so callers outside this layer need no unsafe code.</summary>
public static partial class Libc
{
    public static unsafe nint Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer) return Read(fd, p, buffer.Length);
    }

    public static unsafe nint Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer) return Write(fd, p, buffer.Length);
    }
}
