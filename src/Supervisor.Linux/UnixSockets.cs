using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Supervisor.Linux;

/// <summary>
/// The few socket calls .NET does not expose: socketpair (service output), SO_PASSCRED and
/// recvmsg with SCM_CREDENTIALS (sd_notify sender identity).
/// </summary>
public static unsafe partial class UnixSockets
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOCK_NONBLOCK = 0x800;
    private const int SOL_SOCKET = 1;
    private const int SO_PASSCRED = 16;
    private const int SCM_RIGHTS = 1;
    private const int SCM_CREDENTIALS = 2;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_TRUNC = 0x20;
    private const int EAGAIN = 11;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, int* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name; public uint NameLength;
        public IoVec* Iov; public nuint IovLength;
        public void* Control; public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    [StructLayout(LayoutKind.Sequential)]
    public struct UCred { public int Pid; public uint Uid; public uint Gid; }

    /// <summary>
    /// A connected stream pair: the read end as a .NET Socket (epoll-driven async reads, no thread
    /// per service), the write end as a raw fd to hand to the child as stdout/stderr.
    /// </summary>
    public static (Socket Read, int WriteFd) OutputPair()
    {
        int* sv = stackalloc int[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw new IOException($"socketpair(AF_UNIX) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var read = new Socket(new SafeSocketHandle(sv[0], ownsHandle: true));
        // The service writes only: shut our read end's sending side so a service reading stdout gets EOF, not a hang.
        read.Shutdown(SocketShutdown.Send);
        return (read, sv[1]);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary>One message, with <paramref name="fd"/> attached (SCM_RIGHTS) unless it is -1.</summary>
    public static void SendWithFd(Socket socket, ReadOnlySpan<byte> data, int fd)
    {
        byte* control = stackalloc byte[32];
        fixed (byte* p = data)
        {
            var iov = new IoVec { Base = p, Length = (nuint)data.Length };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1 };
            if (fd >= 0)
            {
                var h = (CmsgHdr*)control;
                h->Length = (nuint)(sizeof(CmsgHdr) + sizeof(int));
                h->Level = SOL_SOCKET;
                h->Type = SCM_RIGHTS;
                *(int*)(control + sizeof(CmsgHdr)) = fd;
                msg.Control = control;
                msg.ControlLength = (nuint)((sizeof(CmsgHdr) + sizeof(int) + 7) & ~7);
            }
            if (sendmsg((int)socket.Handle, &msg, MSG_NOSIGNAL) < 0)
                throw new IOException(Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }
    }

    /// <summary>One message (blocking); its length, or -1 at EOF; <paramref name="fd"/> is the attached descriptor or -1.</summary>
    public static int ReceiveWithFd(Socket socket, Span<byte> buffer, out int fd)
    {
        fd = -1;
        byte* control = stackalloc byte[64];
        fixed (byte* data = buffer)
        {
            var iov = new IoVec { Base = data, Length = (nuint)buffer.Length };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
            var n = recvmsg((int)socket.Handle, &msg, MSG_CMSG_CLOEXEC);
            if (n <= 0) return -1;
            if (msg.ControlLength >= (nuint)(sizeof(CmsgHdr) + sizeof(int)))
            {
                var h = (CmsgHdr*)control;
                if (h->Level == SOL_SOCKET && h->Type == SCM_RIGHTS) fd = *(int*)(control + sizeof(CmsgHdr));
            }
            return (int)n;
        }
    }

    public static void PassCredentials(Socket socket)
    {
        int one = 1;
        if (setsockopt((int)socket.Handle, SOL_SOCKET, SO_PASSCRED, &one, sizeof(int)) != 0)
            throw new IOException($"setsockopt(SO_PASSCRED) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Reads one datagram without blocking; returns its length (-1 when none is queued) and the sender's credentials.</summary>
    public static int ReceiveWithCredentials(Socket socket, Span<byte> buffer, out UCred cred, out bool truncated)
    {
        cred = default;
        truncated = false;
        // Room for the credentials and a few fds (a barrier sends one).
        const int controlSize = 256;
        byte* control = stackalloc byte[controlSize];
        fixed (byte* data = buffer)
        {
            var iov = new IoVec { Base = data, Length = (nuint)buffer.Length };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };
            var n = recvmsg((int)socket.Handle, &msg, MSG_DONTWAIT);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN) return -1;
                throw new IOException($"recvmsg on the notify socket failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            truncated = (msg.Flags & MSG_TRUNC) != 0;
            // Walk the control messages for SCM_CREDENTIALS (the kernel fills it because of SO_PASSCRED).
            nuint offset = 0;
            while (offset + (nuint)sizeof(CmsgHdr) <= msg.ControlLength)
            {
                var h = (CmsgHdr*)(control + offset);
                if (h->Length < (nuint)sizeof(CmsgHdr)) break;
                if (h->Level == SOL_SOCKET && h->Type == SCM_CREDENTIALS && h->Length >= (nuint)(sizeof(CmsgHdr) + sizeof(UCred)))
                    cred = *(UCred*)(control + offset + (nuint)sizeof(CmsgHdr));
                else if (h->Level == SOL_SOCKET && h->Type == SCM_RIGHTS)
                {
                    // sd_notify_barrier() sends BARRIER=1 with a pipe fd and waits until the manager
                    // closes it; a received fd is never kept (FDSTORE is not supported), so close them all.
                    int count = (int)((h->Length - (nuint)sizeof(CmsgHdr)) / sizeof(int));
                    var fds = (int*)(control + offset + (nuint)sizeof(CmsgHdr));
                    for (int i = 0; i < count; i++) close(fds[i]);
                }
                offset += (h->Length + 7) & ~(nuint)7;
            }
            return (int)n;
        }
    }
}
