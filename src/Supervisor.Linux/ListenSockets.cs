using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>A listening socket could not be made: the call that failed and its errno.</summary>
public sealed class ListenSocketException(string operation, int errno)
    : IOException($"{operation}: {Supervisor.Linux.Errno.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})")
{
    public int Error { get; } = errno;
}

/// <summary>How a listening socket is set up (systemd.socket(5)'s options, already decided).</summary>
public readonly record struct ListenOptions(int Backlog, bool ReusePort, bool? Ipv6Only, bool FreeBind, bool PassCredentials, bool PassSecurity);

/// <summary>
/// Socket activation's listening sockets, made with socket(2), bind(2) and listen(2) directly:
/// .NET's Socket deletes a unix socket file it bound when it is disposed, and systemd keeps it
/// unless RemoveOnStop. The descriptors are blocking (as systemd passes them) and close-on-exec
/// (only the exec helper's dup2 hands them on).
/// </summary>
public static unsafe class ListenSockets
{
    public const int SOCK_STREAM = Libc.SOCK_STREAM;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_SEQPACKET = 5;
    private const int AF_INET = 2, AF_INET6 = 10;
    private const int SO_REUSEADDR = 2, SO_REUSEPORT = 15, SO_PASSSEC = 34;
    private const int IPPROTO_IP = 0, IP_FREEBIND = 15, IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26, IPV6_FREEBIND = 78;
    private const int EAFNOSUPPORT = 97, EADDRINUSE = 98;

    /// <summary>An IP socket on <paramref name="ip"/>:<paramref name="port"/>; a null address is every address (IPv6 "::", IPv4 where the host has no IPv6).</summary>
    public static SafeFd OpenInet(IPAddress? ip, int port, int type, ListenOptions options)
    {
        if (ip is null)
        {
            try
            {
                return OpenInet(IPAddress.IPv6Any, port, type, options);
            }
            catch (ListenSocketException e) when (e.Error == EAFNOSUPPORT)
            {
                return OpenInet(IPAddress.Any, port, type, options);
            }
        }
        bool v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        var fd = NewSocket(v6 ? AF_INET6 : AF_INET, type);
        try
        {
            // systemd sets SO_REUSEADDR on every IP listening socket: a restart of the socket unit
            // must not wait out TIME_WAIT.
            SetInt(fd, Libc.SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
            if (options.ReusePort) SetInt(fd, Libc.SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
            if (options.FreeBind) SetInt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND, 1, "FreeBind");
            if (v6 && options.Ipv6Only is { } only) SetInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, only ? 1 : 0, "IPV6_V6ONLY");
            Span<byte> sa = stackalloc byte[v6 ? 28 : 16];
            sa.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(sa, (ushort)(v6 ? AF_INET6 : AF_INET));
            BinaryPrimitives.WriteUInt16BigEndian(sa[2..], (ushort)port);
            if (v6) ip.GetAddressBytes().CopyTo(sa[8..]);
            else ip.GetAddressBytes().CopyTo(sa[4..]);
            if (v6) BinaryPrimitives.WriteUInt32LittleEndian(sa[24..], (uint)ip.ScopeId);
            BindAndListen(fd, sa, type, options.Backlog);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A unix socket at <paramref name="path"/> (a file), or an abstract one. A file that is in
    /// the way is removed and the bind tried once more, as systemd does (a stale socket of an
    /// earlier run). The file's mode and owner are set by the caller.
    /// </summary>
    public static SafeFd OpenUnix(string path, bool @abstract, int type, ListenOptions options)
    {
        var fd = NewSocket(Libc.AF_UNIX, type);
        try
        {
            if (options.PassCredentials) SetInt(fd, Libc.SOL_SOCKET, Libc.SO_PASSCRED, 1, "SO_PASSCRED");
            if (options.PassSecurity) SetInt(fd, Libc.SOL_SOCKET, SO_PASSSEC, 1, "SO_PASSSEC");
            var name = Encoding.UTF8.GetBytes(path);
            int offset = @abstract ? 1 : 0;
            Span<byte> sa = stackalloc byte[2 + offset + name.Length + (@abstract ? 0 : 1)];
            sa.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(sa, (ushort)Libc.AF_UNIX);
            name.CopyTo(sa[(2 + offset)..]);
            try
            {
                BindAndListen(fd, sa, type, options.Backlog);
            }
            catch (ListenSocketException e) when (e.Error == EADDRINUSE && !@abstract && Libc.Unlink(path) == 0)
            {
                BindAndListen(fd, sa, type, options.Backlog);
            }
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>chown without following a link (the socket file itself); throws with the errno.</summary>
    public static void Chown(string path, uint uid, uint gid)
    {
        if (Libc.Lchown(path, uid, gid) < 0) throw new ListenSocketException($"chown '{path}'", Marshal.GetLastPInvokeError());
    }

    /// <summary>Removes a unix socket file; a file already gone is fine.</summary>
    public static void Remove(string path)
    {
        if (Libc.Unlink(path) < 0 && Marshal.GetLastPInvokeError() is var e && e != Errno.ENOENT)
            throw new ListenSocketException($"unlink '{path}'", e);
    }

    private static SafeFd NewSocket(int domain, int type)
    {
        int fd = Libc.Socket(domain, type | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new ListenSocketException("socket", Marshal.GetLastPInvokeError());
        return new SafeFd(fd);
    }

    private static void SetInt(SafeFd fd, int level, int name, int value, string what)
    {
        if (Libc.SetSockOpt(fd.Fd, level, name, &value, sizeof(int)) < 0)
            throw new ListenSocketException($"setsockopt({what})", Marshal.GetLastPInvokeError());
    }

    private static void BindAndListen(SafeFd fd, ReadOnlySpan<byte> sa, int type, int backlog)
    {
        fixed (byte* p = sa)
        {
            if (Libc.Bind(fd.Fd, p, (uint)sa.Length) < 0)
                throw new ListenSocketException("bind", Marshal.GetLastPInvokeError());
        }
        if (type != SOCK_DGRAM && Libc.Listen(fd.Fd, backlog) < 0)
            throw new ListenSocketException("listen", Marshal.GetLastPInvokeError());
    }
}
