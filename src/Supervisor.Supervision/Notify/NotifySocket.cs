using System.Buffers;
using System.Net.Sockets;
using Supervisor.Linux;

namespace Supervisor.Supervision.Notify;

/// <summary>
/// A unit's $NOTIFY_SOCKET: an AF_UNIX datagram socket the service (or systemd-notify) sends
/// sd_notify messages to. The kernel attaches the sender's credentials (SO_PASSCRED); a message
/// is believed only when its sender is in the unit's cgroup, so another unit cannot declare this
/// one ready or feed its watchdog.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    /// <summary>
    /// Stands for the unit's notify socket in a message of the state machine, which does not know
    /// where the socket is; the daemon writes the path (and what reached it) in its place.
    /// </summary>
    public const string PathToken = "$NOTIFY_SOCKET";

    private readonly Socket _socket;
    public string Path { get; }

    public NotifySocket(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (File.Exists(path)) File.Delete(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        UnixSockets.PassCredentials(_socket);
        // Services run as other users (User=): they must be able to send; only the cgroup check decides what is believed.
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
    }

    /// <summary>
    /// Receives messages until cancelled, calling <paramref name="onMessage"/> with each parsed
    /// message, its sender's pid and, for FDSTORE=1 or FDSTOREREMOVE=1, the fd store request (owned
    /// by the callee from then); <paramref name="senderAllowed"/> decides from the pid.
    /// </summary>
    public async Task RunAsync(Func<int, bool> senderAllowed, Action<NotifyMessage, int, FdStoreRequest?> onMessage, Action<string> onRejected, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // Wait for a datagram with a zero-byte peek (epoll underneath), then read it with its
                // credentials into a buffer borrowed only while there are messages.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(NotifyMessage.MaxBytes + 1);
                try
                {
                    Drain(buffer, senderAllowed, onMessage, onRejected);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    private void Drain(byte[] buffer, Func<int, bool> senderAllowed, Action<NotifyMessage, int, FdStoreRequest?> onMessage, Action<string> onRejected)
    {
        var received = new List<int>();
        while (true)
        {
            received.Clear();
            int n = UnixSockets.ReceiveWithCredentials(_socket, buffer, received, out var cred, out bool truncated, out bool fdsTruncated);
            // Owned at once: every path below either hands them on or closes them.
            var fds = received.Select(fd => new SafeFd(fd)).ToList();
            if (n < 0) break;
            if (fdsTruncated)
                onRejected($"notify message from pid {cred.Pid} carried more than {UnixSockets.NotifyMaxFds} descriptors; the kernel closed the rest");
            var message = Admit(buffer, n, cred.Pid, truncated, senderAllowed, onRejected);
            // BARRIER=1 only asks us to have read what came before: closing its fd (below) answers it.
            if (message is null || (message.Other is [{ Key: "BARRIER", Value: "1" }] && !message.Ready && message.Status is null))
            {
                fds.ForEach(fd => fd.Dispose());
                continue;
            }
            FdStoreRequest? store = null;
            if (message.FdStore || message.FdStoreRemove)
                store = new FdStoreRequest(message.FdStore ? fds : [], message.FdStore, message.FdStoreRemove, message.FdName, message.FdPoll);
            if (!message.FdStore) fds.ForEach(fd => fd.Dispose());
            onMessage(message, cred.Pid, store);
        }
    }

    /// <summary>The parsed message, or null (and why, to <paramref name="onRejected"/>) when it is too large or its sender is not the unit's.</summary>
    private static NotifyMessage? Admit(byte[] buffer, int n, int pid, bool truncated, Func<int, bool> senderAllowed, Action<string> onRejected)
    {
        if (truncated || n > NotifyMessage.MaxBytes)
        {
            onRejected($"notify message from pid {pid} larger than {NotifyMessage.MaxBytes} bytes; ignored");
            return null;
        }
        if (pid <= 0 || !senderAllowed(pid))
        {
            onRejected($"notify message from pid {pid}, which is not in this unit's cgroup; ignored");
            return null;
        }
        return NotifyMessage.Parse(buffer.AsSpan(0, n));
    }

    public void Dispose()
    {
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
