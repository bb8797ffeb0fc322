using System.Net.Sockets;
using Supervisor.Linux;

namespace Supervisor.Supervision.Logs;

/// <summary>Messages with a file descriptor attached (SCM_RIGHTS), for the output fd holder.</summary>
public static class DescriptorPassing
{
    public static void Send(Socket socket, ReadOnlySpan<byte> data, int fd) => UnixSockets.SendWithFd(socket, data, fd);

    public static int Receive(Socket socket, Span<byte> buffer, out int fd) => UnixSockets.ReceiveWithFd(socket, buffer, out fd);
}
