using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// One accepted connection of an Accept=yes socket unit: the descriptor, where it was accepted
/// (the local address) and who is at the other end (the remote address for IP, the peer's
/// credentials for unix sockets, as SO_PEERCRED gives them at connect()).
/// </summary>
public sealed record AcceptedConnection(SafeFd Fd, IPEndPoint? Local, IPEndPoint? Remote, Libc.UCred? Peer)
{
    /// <summary>What MaxConnectionsPerSource counts by: the remote IP address; null for a unix peer, which systemd's socket_acquire_peer does not count.</summary>
    public string? Source => Remote is { } r ? Unmapped(r.Address).ToString() : null;

    /// <summary>An IPv4-mapped IPv6 address (a v4 client of a "[::]:port" socket) as plain IPv4, as systemd writes it.</summary>
    public static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}

/// <summary>accept4(2) and the addresses of a connection (getsockname, getpeername, SO_PEERCRED).</summary>
public static unsafe class ConnectionSockets
{
    private const int AF_INET = 2;
    private const int AF_INET6 = 10;
    private const int SockaddrStorage = 128;

    /// <summary>
    /// Accepts one waiting connection (close-on-exec, blocking, as the service expects it), or
    /// returns null with the errno when none is there: the listener is checked with poll(2) first,
    /// so a blocking listening socket never blocks the caller (EAGAIN), and a connection reset
    /// before it was taken (ECONNABORTED) is just gone.
    /// </summary>
    public static AcceptedConnection? Accept(SafeFd listener, out int errno)
    {
        errno = 0;
        var pfd = new Libc.PollFd { Fd = listener.Fd, Events = Libc.POLLIN };
        if (Libc.Poll(&pfd, 1, 0) <= 0 || (pfd.Revents & Libc.POLLIN) == 0)
        {
            errno = Errno.EAGAIN;
            return null;
        }
        int fd = Libc.Accept4(listener.Fd, null, null, Libc.SOCK_CLOEXEC);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        var safe = new SafeFd(fd);
        return new AcceptedConnection(safe, Address(safe, local: true), Address(safe, local: false), PeerCredentials(safe));
    }

    /// <summary>The local or remote IP endpoint; null for a unix socket (or a peer gone already, ENOTCONN).</summary>
    public static IPEndPoint? Address(SafeFd fd, bool local)
    {
        byte* buffer = stackalloc byte[SockaddrStorage];
        uint length = SockaddrStorage;
        int r = local ? Libc.GetSockName(fd.Fd, buffer, &length) : Libc.GetPeerName(fd.Fd, buffer, &length);
        if (r < 0 || length < 2) return null;
        var sa = new ReadOnlySpan<byte>(buffer, (int)length);
        int family = BinaryPrimitives.ReadUInt16LittleEndian(sa);
        int port = sa.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(sa[2..]) : 0;
        return family switch
        {
            AF_INET when sa.Length >= 8 => new IPEndPoint(new IPAddress(sa.Slice(4, 4)), port),
            AF_INET6 when sa.Length >= 28 => new IPEndPoint(new IPAddress(sa.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(sa[24..])), port),
            _ => null,
        };
    }

    /// <summary>SO_PEERCRED of a unix socket: the peer's pid, uid and gid at connect(); null for other families.</summary>
    public static Libc.UCred? PeerCredentials(SafeFd fd)
    {
        Libc.UCred cred;
        uint length = (uint)sizeof(Libc.UCred);
        if (Libc.GetSockOpt(fd.Fd, Libc.SOL_SOCKET, Libc.SO_PEERCRED, &cred, &length) < 0 || length < sizeof(Libc.UCred)) return null;
        // An IP socket answers with pid 0 and the overflow ids: only a unix peer has credentials.
        return cred.Pid > 0 ? cred : null;
    }
}
