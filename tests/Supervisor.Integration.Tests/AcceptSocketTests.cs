using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Accept=yes for real: the daemon accepts each connection and starts an instance of the
/// template per connection, inetd style, with Debian's sshd in inetd mode (sshd -i) as the
/// workload: a banner per connection is an instance per connection. In the "real daemons"
/// collection: its sshd template's RuntimeDirectory is /run/sshd, as Debian's ssh.service's is,
/// and an instance that ends removes it under the imported ssh test running beside it.
/// </summary>
[Collection("real daemons")]
public class AcceptSocketTests
{
    private const string Sshd = "/usr/sbin/sshd";
    private const string Banner = "SSH-2.0-OpenSSH_";

    /// <summary>A throwaway host key and config; sshd needs /run/sshd, which the template makes (RuntimeDirectory, as Debian's ssh@.service).</summary>
    private static void WriteSshd(Daemon d, string socketKeys = "")
    {
        if (!File.Exists(Sshd) || !File.Exists("/usr/bin/ssh-keygen")) Assert.Skip("sshd is not installed (Debian package openssh-server)");
        var dir = Path.Combine(d.Root, "ssh");
        Directory.CreateDirectory(dir);
        Run("/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "key"));
        File.WriteAllText(Path.Combine(dir, "config"), "PidFile none\nUsePAM no\n");
        d.WriteUnit("sshd@", $"""
            [Service]
            ExecStart = ["{Sshd}", "-i", "-f", "{dir}/config", "-h", "{dir}/key"]
            StandardInput = "socket"
            StandardError = "journal"
            RuntimeDirectory = ["sshd"]
            RuntimeDirectoryMode = "0755"
            """);
        d.WriteUnit("sshd.socket", $"""
            [Socket]
            ListenStream = ["127.0.0.1:{Port(d)}"]
            Accept = true
            {socketKeys}
            """);
    }

    private static readonly Dictionary<string, int> Ports = [];

    private static int Port(Daemon d)
    {
        lock (Ports)
        {
            if (!Ports.TryGetValue(d.Root, out var p)) Ports[d.Root] = p = Daemon.FreePort();
            return p;
        }
    }

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} failed: {p.StandardError.ReadToEnd()}");
    }

    private static Socket Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 120_000 };
        s.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    /// <summary>The first line the server sends, or "" when it closes the connection without a word.</summary>
    private static string FirstLine(Socket s)
    {
        var text = new StringBuilder();
        var buffer = new byte[1];
        while (s.Receive(buffer) == 1 && buffer[0] != '\n') text.Append((char)buffer[0]);
        return text.ToString().TrimEnd('\r');
    }

    /// <summary>The sshd banner, or a failure that shows what the daemon and the instance logged.</summary>
    private static void AssertBanner(Daemon d, Socket s, int n)
    {
        var line = FirstLine(s);
        Assert.True(line.StartsWith(Banner, StringComparison.Ordinal), $"no banner (got \"{line}\"):\n{d.Cli("logs", Instance("sshd", n, s)).Out}\n{d.Log}");
    }

    /// <summary>systemd's instance name: "N-LOCAL:PORT-REMOTE:PORT".</summary>
    private static string Instance(string template, int n, Socket s) =>
        $"{template}@{n}-127.0.0.1:{((IPEndPoint)s.RemoteEndPoint!).Port}-127.0.0.1:{((IPEndPoint)s.LocalEndPoint!).Port}";

    private static bool Listed(Daemon d, string unit) => d.Cli("list-units").Out.Contains(unit, StringComparison.Ordinal);

    [Fact]
    public async Task Two_concurrent_connections_get_two_sshd_instances_in_their_own_cgroups_which_are_gone_once_each_connection_closes()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteSshd(d);
        d.Start();
        d.WaitForState("sshd.socket", "active", "listening");

        using var first = Connect(Port(d));
        AssertBanner(d, first, 0);
        using var second = Connect(Port(d));
        AssertBanner(d, second, 1);
        string a = Instance("sshd", 0, first), b = Instance("sshd", 1, second);
        d.WaitForState(a, "active", "running");
        d.WaitForState(b, "active", "running");
        Assert.True(Listed(d, a) && Listed(d, b), d.Cli("list-units").Out);

        // From outside: each main process is sshd, in its own instance's cgroup.
        int pa = d.MainPid(a), pb = d.MainPid(b);
        Assert.NotEqual(pa, pb);
        Assert.Contains("sshd", File.ReadAllText($"/proc/{pa}/cmdline"));
        var ca = File.ReadAllText($"/proc/{pa}/cgroup");
        Assert.True(ca.Contains($"/{a}.service", StringComparison.Ordinal), ca);
        var cb = File.ReadAllText($"/proc/{pb}/cgroup");
        Assert.True(cb.Contains($"/{b}.service", StringComparison.Ordinal), cb);
        Assert.True(Directory.Exists(d.CgroupDir(a)) && Directory.Exists(d.CgroupDir(b)));

        // The client hangs up: sshd sees EOF and exits, the instance and its cgroup are gone; the other runs on.
        first.Close();
        d.WaitFor(() => !Directory.Exists(d.CgroupDir(a)) && !Listed(d, a), $"{a} and its cgroup to be gone");
        Assert.Equal("active", d.Prop(b, "ActiveState"));
        second.Close();
        d.WaitFor(() => !Directory.Exists(d.CgroupDir(b)) && !Listed(d, b), $"{b} and its cgroup to be gone");
        Assert.Contains("NAccepted=2", d.Cli("status", "sshd.socket").Out);
    }

    [Fact]
    public async Task With_MaxConnections_1_a_second_connection_is_closed_without_a_banner_while_the_first_is_open()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteSshd(d, "MaxConnections = 1");
        d.Start();
        d.WaitForState("sshd.socket", "active", "listening");

        using var first = Connect(Port(d));
        AssertBanner(d, first, 0);
        using (var refused = Connect(Port(d)))
            Assert.Equal("", FirstLine(refused));
        d.WaitFor(() => d.Log.Contains("sshd.socket: too many incoming connections (1, MaxConnections=1)"), "the refusal in the log");

        var a = Instance("sshd", 0, first);
        first.Close();
        d.WaitFor(() => !Listed(d, a), $"{a} to be gone");
        // The slot is free again: the next connection gets its sshd (the refused one never counted).
        using var third = Connect(Port(d));
        AssertBanner(d, third, 1);
        d.WaitForState(Instance("sshd", 1, third), "active", "running");
    }

    [Fact]
    public async Task An_inetd_style_cat_echoes_on_the_connection_and_sees_REMOTE_ADDR_and_REMOTE_PORT()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Port(d);
        d.WriteUnit("echo@", """
            [Service]
            ExecStart = ["/bin/sh", "-c", "echo remote=$$REMOTE_ADDR:$$REMOTE_PORT; exec /bin/cat"]
            StandardInput = "socket"
            """);
        d.WriteUnit("echo.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\nAccept = true\n");
        d.Start();
        d.WaitForState("echo.socket", "active", "listening");

        using var s = Connect(port);
        Assert.Equal($"remote=127.0.0.1:{((IPEndPoint)s.LocalEndPoint!).Port}", FirstLine(s));
        s.Send("ping over the socket\n"u8);
        Assert.Equal("ping over the socket", FirstLine(s));
        s.Shutdown(SocketShutdown.Send);
        Assert.Equal("", FirstLine(s));
    }

    [Fact]
    public async Task Without_a_socket_on_stdio_the_connection_is_fd_3_with_LISTEN_FDS_1_named_connection()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Port(d);
        var script = Path.Combine(d.Root, "fd3.py");
        File.WriteAllText(script, """
            import os, socket
            s = socket.socket(fileno=3)
            s.sendall(f"fds={os.environ.get('LISTEN_FDS')} names={os.environ.get('LISTEN_FDNAMES')} pid_ok={os.environ.get('LISTEN_PID') == str(os.getpid())}\n".encode())
            """);
        d.WriteUnit("fd3@", $"[Service]\nExecStart = [\"/usr/bin/python3\", \"{script}\"]\n");
        d.WriteUnit("fd3.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\nAccept = true\n");
        d.Start();
        d.WaitForState("fd3.socket", "active", "listening");
        using var s = Connect(port);
        Assert.Equal("fds=1 names=connection pid_ok=True", FirstLine(s));
    }

    [Fact]
    public async Task Only_the_newest_finished_connections_keep_a_log_file()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Port(d);
        d.WriteUnit("hello@", "[Service]\nExecStart = [\"/bin/echo\", \"hello\"]\n");
        d.WriteUnit("hello.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\nAccept = true\n");
        d.Start();
        d.WaitForState("hello.socket", "active", "listening");
        var logs = Path.Combine(d.State, "logs");
        int connections = Supervisor.Runtime.Output.FinishedInstanceLogs.KeepPerTemplate + 2;
        string? first = null;
        for (int n = 0; n < connections; n++)
        {
            using var s = Connect(port);
            first ??= Instance("hello", 0, s);
            // The instance has run once its connection is closed from its end.
            Assert.Equal("", FirstLine(s));
        }
        string[] Logs() => Directory.GetFiles(logs, "hello@*.log");
        d.WaitFor(() => Logs().Length == Supervisor.Runtime.Output.FinishedInstanceLogs.KeepPerTemplate && !d.Cli("list-units").Out.Contains("hello@", StringComparison.Ordinal),
            $"{Supervisor.Runtime.Output.FinishedInstanceLogs.KeepPerTemplate} instance logs to stay of {connections} connections");
        Assert.DoesNotContain(Path.Combine(logs, first + ".log"), Logs());
    }
}
