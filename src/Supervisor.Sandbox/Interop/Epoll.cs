using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>epoll(7), to wait for many pidfds on one thread.</summary>
internal static unsafe partial class Epoll
{
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLONESHOT = 1u << 30;

    /// <summary>struct epoll_event is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16).</summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static int DataOffset => EventSize == 12 ? 4 : 8;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    public static int Control(int epfd, int op, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = data;
        return epoll_ctl(epfd, op, fd, ev);
    }

    public static ulong DataAt(byte* events, int index) => *(ulong*)(events + index * EventSize + DataOffset);
}
