using System.Net.Sockets;
using System.Text;
using Supervisor.Linux;

namespace Supervisor.Sandbox.Tests.Support;

/// <summary>The fd holder's wire from the test's side: text messages with at most one SCM_RIGHTS descriptor.</summary>
internal static class FdPassing
{
    /// <summary>Sends TEXT with FD attached, or no fd when FD is -1.</summary>
    public static void Send(Socket socket, string text, int fd) => UnixSockets.SendWithFd(socket, Encoding.ASCII.GetBytes(text), fd);

    /// <summary>One message as text, and the fd that came with it (-1 for none).</summary>
    public static (string Text, int Fd) Receive(Socket socket)
    {
        Span<byte> buffer = stackalloc byte[512];
        int n = UnixSockets.ReceiveWithFd(socket, buffer, out int fd);
        if (n < 0) throw new IOException("recvmsg: the holder closed the connection or the call failed");
        return (Encoding.ASCII.GetString(buffer[..n]), fd);
    }
}
