using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// What .NET's Socket cannot do on an AF_UNIX socket: socketpair (service output), SO_PASSCRED,
/// and messages with descriptors (SCM_RIGHTS: the output holder, D-Bus fd passing) or the
/// sender's credentials (SCM_CREDENTIALS: sd_notify). One sendmsg and one recvmsg with one walk
/// over the control messages serve them all.
/// </summary>
public static unsafe class UnixSockets
{
    /// <summary>SCM_MAX_FD: the kernel passes at most this many descriptors in one message.</summary>
    public const int MaxFdsPerMessage = 253;

    // Room for the descriptors a receiver accepts; more are closed by the kernel (MSG_CTRUNC).
    private const int HolderMaxFds = 8;
    /// <summary>Descriptors one sd_notify message may carry (FDSTORE=1); the kernel's own limit per message.</summary>
    public const int NotifyMaxFds = MaxFdsPerMessage;

    /// <summary>
    /// A connected stream pair: the read end as a .NET Socket (epoll-driven async reads, no thread
    /// per service), the write end as a raw fd to hand to the child as stdout/stderr.
    /// </summary>
    public static (Socket Read, int WriteFd) OutputPair()
    {
        int* sv = stackalloc int[2];
        if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv) != 0)
            throw new IOException($"socketpair(AF_UNIX) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var read = new Socket(new SafeSocketHandle(sv[0], ownsHandle: true));
        // The service writes only: shut our read end's sending side so a service reading stdout gets EOF, not a hang.
        read.Shutdown(SocketShutdown.Send);
        return (read, sv[1]);
    }

    /// <summary>A connected SOCK_SEQPACKET pair, both ends close-on-exec: one message per send, descriptors attached.</summary>
    public static (SafeFd A, SafeFd B) SeqpacketPair()
    {
        int* sv = stackalloc int[2];
        if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0, sv) != 0)
            throw new IOException($"socketpair(AF_UNIX, SOCK_SEQPACKET) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (new SafeFd(sv[0]), new SafeFd(sv[1]));
    }

    public static void PassCredentials(Socket socket)
    {
        int one = 1;
        if (Libc.SetSockOpt((int)socket.Handle, Libc.SOL_SOCKET, Libc.SO_PASSCRED, &one, sizeof(int)) != 0)
            throw new IOException($"setsockopt(SO_PASSCRED) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>One message (blocking), with <paramref name="fd"/> attached (SCM_RIGHTS) unless it is -1.</summary>
    public static void SendWithFd(Socket socket, ReadOnlySpan<byte> data, int fd)
    {
        ReadOnlySpan<int> fds = fd >= 0 ? [fd] : [];
        if (Send(socket.SafeHandle, data, fds, Libc.MSG_NOSIGNAL, out int errno) < 0)
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
    }

    /// <summary>One message (blocking); its length, or -1 at EOF; <paramref name="fd"/> is the attached descriptor or -1.</summary>
    public static int ReceiveWithFd(Socket socket, Span<byte> buffer, out int fd)
    {
        var fds = new List<int>(1);
        var n = Receive(socket.SafeHandle, buffer, Libc.MSG_CMSG_CLOEXEC, HolderMaxFds, credentials: false, fds, out _, out _, out _);
        fd = n > 0 && fds.Count > 0 ? fds[0] : -1;
        // One descriptor per message is the holder's protocol: any other is closed, never leaked.
        foreach (var extra in fds)
            if (extra != fd) Libc.Close(extra);
        return n <= 0 ? -1 : (int)n;
    }

    /// <summary>
    /// Reads one datagram without blocking; returns its length (-1 when none is queued) and the
    /// sender's credentials. Descriptors that came with it (sd_notify FDSTORE=1, BARRIER=1) are
    /// appended to <paramref name="fds"/>, close-on-exec: the caller owns them.
    /// <paramref name="fdsTruncated"/> says the kernel closed some (more than <see cref="NotifyMaxFds"/>).
    /// </summary>
    public static int ReceiveWithCredentials(Socket socket, Span<byte> buffer, List<int> fds, out Libc.UCred cred, out bool truncated, out bool fdsTruncated)
    {
        var n = Receive(socket.SafeHandle, buffer, Libc.MSG_DONTWAIT | Libc.MSG_CMSG_CLOEXEC, NotifyMaxFds, credentials: true, fds, out cred, out int flags, out int errno);
        truncated = (flags & Libc.MSG_TRUNC) != 0;
        fdsTruncated = (flags & Libc.MSG_CTRUNC) != 0;
        if (n >= 0) return (int)n;
        if (errno == Errno.EAGAIN) return -1;
        throw new IOException($"recvmsg on the notify socket failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>
    /// Sends what the socket takes now (MSG_DONTWAIT) of <paramref name="data"/>, with
    /// <paramref name="fds"/> attached to its first byte; the count sent, or -1 and the errno.
    /// </summary>
    public static int TrySend(SafeHandle socket, ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> fds, out int errno)
    {
        if (fds.Count > MaxFdsPerMessage) throw new ArgumentException($"at most {MaxFdsPerMessage} descriptors fit in one message", nameof(fds));
        Span<int> numbers = stackalloc int[fds.Count];
        for (int i = 0; i < fds.Count; i++) numbers[i] = (int)fds[i].DangerousGetHandle();
        return (int)Send(socket, data, numbers, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL, out errno);
    }

    /// <summary>
    /// Receives what is there now (MSG_DONTWAIT): the count (0 at EOF), or -1 and the errno.
    /// Descriptors that came with the bytes are appended to <paramref name="fds"/> (close-on-exec);
    /// <paramref name="fdsTruncated"/> says the kernel closed some because more than
    /// <paramref name="maxFds"/> came.
    /// </summary>
    public static int TryReceive(SafeHandle socket, Span<byte> buffer, int maxFds, List<int> fds, out bool fdsTruncated, out int errno)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxFds, MaxFdsPerMessage);
        var n = Receive(socket, buffer, Libc.MSG_DONTWAIT | Libc.MSG_CMSG_CLOEXEC, maxFds, credentials: false, fds, out _, out int flags, out errno);
        fdsTruncated = n >= 0 && (flags & Libc.MSG_CTRUNC) != 0;
        return (int)n;
    }

    private static nint Send(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds, int flags, out int errno)
    {
        int payload = fds.Length * sizeof(int);
        int controlLength = fds.IsEmpty ? 0 : Libc.CmsgSpace(payload);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        new Span<byte>(control, controlLength).Clear();
        if (!fds.IsEmpty)
        {
            var header = (Libc.CmsgHdr*)control;
            header->Length = (nuint)Libc.CmsgLen(payload);
            header->Level = Libc.SOL_SOCKET;
            header->Type = Libc.SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + Libc.CmsgAlign(sizeof(Libc.CmsgHdr)), fds.Length));
        }
        fixed (byte* bytes = data)
        {
            var iov = new Libc.IoVec { Base = bytes, Length = (nuint)data.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = fds.IsEmpty ? null : control, ControlLength = (nuint)controlLength };
            bool added = false;
            socket.DangerousAddRef(ref added);
            try
            {
                nint n = Libc.SendMsg((int)socket.DangerousGetHandle(), &msg, flags);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                return n;
            }
            finally
            {
                if (added) socket.DangerousRelease();
            }
        }
    }

    /// <param name="maxFds">Room for this many descriptors: more make the kernel close the rest and set MSG_CTRUNC.</param>
    /// <param name="credentials">Room for the sender's credentials too (a socket with SO_PASSCRED).</param>
    private static nint Receive(SafeHandle socket, Span<byte> buffer, int flags, int maxFds, bool credentials, List<int> fds,
        out Libc.UCred cred, out int messageFlags, out int errno)
    {
        int controlLength = Libc.CmsgSpace(maxFds * sizeof(int)) + (credentials ? Libc.CmsgSpace(sizeof(Libc.UCred)) : 0);
        byte* control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        cred = default;
        messageFlags = 0;
        fixed (byte* data = buffer)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)buffer.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            nint n;
            bool added = false;
            socket.DangerousAddRef(ref added);
            try
            {
                n = Libc.RecvMsg((int)socket.DangerousGetHandle(), &msg, flags);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            finally
            {
                if (added) socket.DangerousRelease();
            }
            if (n < 0) return n;
            messageFlags = msg.Flags;
            cred = ReadControl(control, (int)msg.ControlLength, fds);
            return n;
        }
    }

    /// <summary>Walks the control messages: descriptors into <paramref name="fds"/>, the credentials returned.</summary>
    private static Libc.UCred ReadControl(byte* control, int controlLength, List<int> fds)
    {
        Libc.UCred cred = default;
        int headerSize = Libc.CmsgAlign(sizeof(Libc.CmsgHdr));
        int offset = 0;
        while (offset + sizeof(Libc.CmsgHdr) <= controlLength)
        {
            var header = (Libc.CmsgHdr*)(control + offset);
            int length = (int)header->Length;
            if (length < sizeof(Libc.CmsgHdr) || offset + length > controlLength) break;
            if (header->Level == Libc.SOL_SOCKET && header->Type == Libc.SCM_RIGHTS)
            {
                int* data = (int*)(control + offset + headerSize);
                for (int i = 0; i < (length - headerSize) / sizeof(int); i++) fds.Add(data[i]);
            }
            else if (header->Level == Libc.SOL_SOCKET && header->Type == Libc.SCM_CREDENTIALS && length >= headerSize + sizeof(Libc.UCred))
            {
                cred = *(Libc.UCred*)(control + offset + headerSize);
            }
            offset += Libc.CmsgAlign(length);
        }
        return cred;
    }
}
