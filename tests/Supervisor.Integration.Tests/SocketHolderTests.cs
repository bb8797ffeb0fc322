using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Integration.Tests;

/// <summary>Socket units across a killed supervisor: the fd holder keeps the listening sockets.</summary>
public partial class SocketActivationTests
{
    [Fact]
    public async Task After_kill_9_of_the_supervisor_its_socket_unit_keeps_the_same_socket_and_a_connection_made_while_none_runs_is_answered()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteServer(d);
        int port = Daemon.FreePort();
        d.WriteUnit("echo", Service(d));
        d.WriteUnit("echo.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\n");
        d.Start();
        d.WaitForState("echo", "active", "running");
        long inode = ListeningInode(port);
        Assert.Equal($"socket:[{inode}]", FdLink(d.MainPid("echo"), 3));

        // The service down, then the supervisor killed: only the fd holder still has the socket.
        Assert.Equal(0, d.Cli("stop", "echo").Code);
        d.WaitForState("echo", "inactive", "dead");
        d.Signal("KILL");
        d.WaitForExit();
        Assert.Equal(inode, ListeningInode(port));
        // Accepted by the kernel into the backlog (a socket nobody held would refuse it: ECONNREFUSED).
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 120_000 };
        client.Connect(new IPEndPoint(IPAddress.Loopback, port));

        d.Start();
        d.WaitForState("echo.socket", "active", "listening");
        var answer = ReadAll(client);
        Assert.Contains("listen_pid_ok=True fds=1", answer);
        d.WaitForState("echo", "active", "running");
        // The very same socket: no second bind, no moment without a listener.
        Assert.Equal(inode, ListeningInode(port));
        Assert.Equal($"socket:[{inode}]", FdLink(d.MainPid("echo"), 3));
        Assert.Contains("a previous supervisor left in the fd holder", d.Log);
    }

    private static string ReadAll(Socket s)
    {
        var buffer = new byte[512];
        var text = new StringBuilder();
        int n;
        while ((n = s.Receive(buffer)) > 0) text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return text.ToString();
    }

    private static string FdLink(int pid, int fd) => new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget ?? "";

    /// <summary>The inode of the IPv4 socket listening on 127.0.0.1:<paramref name="port"/>, from /proc/net/tcp (state 0A), or 0.</summary>
    private static long ListeningInode(int port)
    {
        var local = $"0100007F:{port:X4}";
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f[1] == local && f[3] == "0A") return long.Parse(f[9], CultureInfo.InvariantCulture);
        }
        return 0;
    }
}
