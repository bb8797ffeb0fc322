using System.Net.Sockets;
using Supervisor.Supervision.Interop;

namespace Supervisor.Supervision.Logs;

/// <summary>Messages with a file descriptor attached (SCM_RIGHTS), for the output fd holder.</summary>
public static class DescriptorPassing
{
    public static void Send(Socket socket, ReadOnlySpan<byte> data, int fd) => Sockets.SendWithFd(socket, data, fd);

    public static int Receive(Socket socket, Span<byte> buffer, out int fd) => Sockets.ReceiveWithFd(socket, buffer, out fd);
}
