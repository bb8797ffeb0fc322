namespace Supervisor.DBus.Interop;

/// <summary>Linux errno values the transport reacts to (asm-generic/errno-base.h).</summary>
internal static class Errno
{
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EPIPE = 32;
    public const int ECONNRESET = 104;
}
