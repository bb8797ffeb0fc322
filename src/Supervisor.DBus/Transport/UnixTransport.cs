using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.DBus.Transport;

/// <summary>
/// An AF_UNIX stream socket that can carry fds. Design: .NET's Socket owns the fd and its
/// epoll registration (so waiting costs no thread), and the bytes move through raw
/// recvmsg/sendmsg with MSG_DONTWAIT because only those carry SCM_RIGHTS (Supervisor.Linux's UnixSockets). To wait for input we
/// await a 1-byte MSG_PEEK receive, which completes when data (or EOF) is readable without
/// consuming it; then recvmsg takes the bytes together with any fds.
/// </summary>
internal sealed class UnixTransport : IDisposable
{
    private const int SO_PEERCRED = 17;
    private const int SO_PEERGROUPS = 59;
    private const int ConnectAttempts = 50;
    private readonly Socket _socket;
    private readonly byte[] _peekBuffer = new byte[1];
    private readonly SocketReadiness? _readiness;

    /// <param name="serverSide">
    /// A connection our server accepted: waiting for input is done on the server's epoll loop,
    /// which then carries the read on (<see cref="SocketReadiness"/>); a client waits through the
    /// socket engine.
    /// </param>
    public UnixTransport(Socket socket, bool serverSide = false)
    {
        _socket = socket;
        if (serverSide) _readiness = new SocketReadiness(socket);
    }

    public Socket Socket => _socket;

    public static async Task<UnixTransport> ConnectAsync(UnixDomainSocketEndPoint endPoint, CancellationToken cancellationToken)
    {
        // A unix socket whose listen backlog is full makes a non-blocking connect() fail with
        // EAGAIN rather than wait (unlike TCP), so a burst of clients retries briefly.
        for (int attempt = 1; ; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
                return new UnixTransport(socket);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TryAgain or SocketError.WouldBlock && attempt < ConnectAttempts)
            {
                socket.Dispose();
                await Task.Delay(Math.Min(attempt * 5, 100), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>SO_PEERCRED and SO_PEERGROUPS of the connected peer.</summary>
    public PeerCredentials GetPeerCredentials()
    {
        Span<byte> ucred = stackalloc byte[12];
        int length = _socket.GetRawSocketOption(Libc.SOL_SOCKET, SO_PEERCRED, ucred);
        if (length != 12) throw new SocketException((int)SocketError.InvalidArgument);
        int pid = BinaryPrimitives.ReadInt32LittleEndian(ucred);
        uint uid = BinaryPrimitives.ReadUInt32LittleEndian(ucred.Slice(4));
        uint gid = BinaryPrimitives.ReadUInt32LittleEndian(ucred.Slice(8));
        return new PeerCredentials(pid, uid, gid, GetPeerGroups());
    }

    private uint[] GetPeerGroups()
    {
        // SO_PEERGROUPS (Linux 4.13) fails with ERANGE when the buffer is too small; retry
        // once with room for NGROUPS_MAX (65536) groups.
        foreach (int capacity in new[] { 64, 65536 })
        {
            var buffer = new byte[capacity * 4];
            try
            {
                int length = _socket.GetRawSocketOption(Libc.SOL_SOCKET, SO_PEERGROUPS, buffer);
                var groups = new uint[length / 4];
                for (int i = 0; i < groups.Length; i++) groups[i] = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i * 4));
                return groups;
            }
            catch (SocketException) when (capacity == 64)
            {
            }
        }
        return Array.Empty<uint>();
    }

    /// <summary>
    /// Receives bytes into <paramref name="buffer"/>; fds that arrive with them are appended to
    /// <paramref name="fds"/> (close-on-exec). Returns 0 at end of stream.
    /// </summary>
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, List<UnixFd> fds, CancellationToken cancellationToken)
    {
        while (true)
        {
            int received = TryReceive(buffer.Span, fds, out int errno);
            if (received >= 0) return received;
            if (errno == Errno.EINTR) continue;
            if (errno != Errno.EAGAIN) throw new SocketException(errno);
            // Nothing to read yet: wait until there is.
            if (_readiness != null) await _readiness.WaitAsync(cancellationToken).ConfigureAwait(false);
            else await _socket.ReceiveAsync(_peekBuffer, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        }
    }

    private int TryReceive(Span<byte> buffer, List<UnixFd> fds, out int errno)
    {
        var received = new List<int>();
        int n = UnixSockets.TryReceive(_socket.SafeHandle, buffer, ProtocolConstants.MaxUnixFdsPerMessage, received, out bool fdsTruncated, out errno);
        foreach (var fd in received) fds.Add(UnixFd.FromReceived(fd));
        if (fdsTruncated)
        {
            // The kernel closed the fds that did not fit: the peer sent more than the
            // per-message limit, and the message they belong to can no longer be complete.
            throw new DBusProtocolException($"peer sent more than {ProtocolConstants.MaxUnixFdsPerMessage} unix fds at once");
        }
        return n;
    }

    /// <summary>
    /// Sends all of <paramref name="data"/>; <paramref name="fds"/> travel with its first bytes,
    /// as the spec requires (not before the message's first byte or after its last).
    /// </summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, IReadOnlyList<SafeHandle> fds, CancellationToken cancellationToken)
    {
        int sent = 0;
        if (fds.Count > 0)
        {
            // Socket.SendAsync cannot attach fds, so the first chunk goes through sendmsg. When the
            // peer's buffer is full (EAGAIN) there is no way to await writability through
            // Socket without sending, so back off briefly; this only happens for a fd-carrying
            // message to a peer that is not keeping up.
            int delayMs = 1;
            while (true)
            {
                int n = TrySendWithFds(data.Span, fds, out int errno);
                if (n > 0)
                {
                    sent = n;
                    break;
                }
                if (errno == Errno.EINTR) continue;
                if (errno != Errno.EAGAIN) throw new SocketException(errno);
                await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                delayMs = Math.Min(delayMs * 2, 100);
            }
        }
        while (sent < data.Length)
        {
            int n = await _socket.SendAsync(data.Slice(sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            sent += n;
        }
    }

    private int TrySendWithFds(ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> fds, out int errno) =>
        UnixSockets.TrySend(_socket.SafeHandle, data, fds, out errno);

    public void Dispose()
    {
        _readiness?.Dispose();
        _socket.Dispose();
    }
}
