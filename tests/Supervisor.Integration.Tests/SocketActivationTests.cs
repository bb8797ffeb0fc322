using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Socket units for real: the daemon binds, the service gets the sockets by systemd's protocol
/// (fds 3.., LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), and the sockets outlive the service.
/// </summary>
public partial class SocketActivationTests
{
    /// <summary>
    /// A service that uses only the passed sockets: it answers every connection with what it was
    /// given ("pid=… listen_pid=… fds=… names=…"), checked from inside, as sd_listen_fds does.
    /// </summary>
    private const string Server = """
        import os, socket, selectors, sys
        n = int(os.environ.get("LISTEN_FDS", "0"))
        ok = os.environ.get("LISTEN_PID") == str(os.getpid())
        names = os.environ.get("LISTEN_FDNAMES", "")
        socks = [socket.socket(fileno=3 + i) for i in range(n)]
        sel = selectors.DefaultSelector()
        for s in socks: sel.register(s, selectors.EVENT_READ)
        while True:
            for key, _ in sel.select():
                c, _ = key.fileobj.accept()
                c.sendall(f"pid={os.getpid()} listen_pid_ok={ok} fds={n} names={names} family={key.fileobj.family.name}\n".encode())
                c.close()
        """;

    private static string Dir(Daemon d) => Path.Combine(d.Root, "srv");

    private static void WriteServer(Daemon d)
    {
        Directory.CreateDirectory(Dir(d));
        File.WriteAllText(Path.Combine(Dir(d), "server.py"), Server);
    }

    private static string Ask(EndPoint endpoint)
    {
        using var s = new Socket(endpoint.AddressFamily, SocketType.Stream, endpoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        s.ReceiveTimeout = 120_000;
        s.Connect(endpoint);
        var buffer = new byte[512];
        var text = new StringBuilder();
        int n;
        while ((n = s.Receive(buffer)) > 0) text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return text.ToString().Trim();
    }

    private static string Service(Daemon d, string extra = "", string sandbox = "") => $"""
        [Service]
        ExecStart = ["/usr/bin/python3", "{Dir(d)}/server.py"]
        {extra}
        {sandbox}
        """;

    [Fact]
    public async Task A_TCP_and_a_unix_socket_reach_the_service_as_fds_3_and_4_with_systemds_variables_and_the_file_mode_and_owner_declared()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteServer(d);
        int port = Daemon.FreePort();
        var path = Path.Combine(d.Root, "sock", "deeper", "web.sock");
        d.WriteUnit("web", Service(d));
        d.WriteUnit("web.socket", $"""
            [Socket]
            ListenStream = ["127.0.0.1:{port}", "{path}"]
            FileDescriptorName = "http"
            SocketUser = "nobody"
            SocketMode = "0660"
            DirectoryMode = "0750"
            """);
        d.Start();
        d.WaitForState("web.socket", "active", "listening");
        d.WaitForState("web", "active", "running");

        var tcp = Ask(new IPEndPoint(IPAddress.Loopback, port));
        Assert.Contains("listen_pid_ok=True fds=2 names=http:http family=AF_INET", tcp);
        Assert.Contains($"pid={d.MainPid("web")} ", tcp);
        Assert.Contains("family=AF_UNIX", Ask(new UnixDomainSocketEndPoint(path)));
        // stat, from outside: the declared mode and owner; the parents made with DirectoryMode.
        var info = new Stat(path);
        Assert.Equal("660 65534", info.ModeAndOwner);
        Assert.Equal("750", new Stat(Path.GetDirectoryName(path)!).Mode);
    }

    [Fact]
    public async Task Inside_a_pid_namespace_LISTEN_PID_is_the_pid_the_service_sees()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteServer(d);
        int port = Daemon.FreePort();
        d.WriteUnit("ns", Service(d, sandbox: "[Sandbox]\nNamespaces = [\"pid\"]"));
        d.WriteUnit("ns.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\n");
        d.Start();
        d.WaitForState("ns", "active", "running");
        var answer = Ask(new IPEndPoint(IPAddress.Loopback, port));
        // pid 2: the helper's init is 1 in the namespace; the host pid is something else.
        Assert.Contains("pid=2 listen_pid_ok=True fds=1 names=ns.socket", answer);
    }

    [Fact]
    public async Task A_connection_made_while_the_service_is_down_is_answered_by_the_next_run_and_a_stopped_service_starts_on_traffic()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteServer(d);
        int port = Daemon.FreePort();
        d.WriteUnit("echo", Service(d, extra: "Restart = \"always\"\nRestartSec = \"3s\""));
        d.WriteUnit("echo.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\n");
        d.Start();
        d.WaitForState("echo", "active", "running");
        int first = d.MainPid("echo");

        // Killed: for the next 3 s nothing runs; the socket stays bound and queues the connection.
        Process.Start("kill", ["-9", first.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        d.WaitForState("echo", "activating", "auto-restart");
        var during = Ask(new IPEndPoint(IPAddress.Loopback, port));
        Assert.Contains("listen_pid_ok=True", during);
        Assert.DoesNotContain($"pid={first} ", during);

        // Stopped on request: the next connection starts it again (systemd's activation).
        Assert.Equal(0, d.Cli("stop", "echo").Code);
        d.WaitForState("echo", "inactive", "dead");
        Assert.Equal("active", d.Prop("echo.socket", "ActiveState"));
        var woken = Ask(new IPEndPoint(IPAddress.Loopback, port));
        Assert.Contains("listen_pid_ok=True fds=1", woken);
        d.WaitForState("echo", "active", "running");
    }

    [Fact]
    public async Task A_port_in_use_fails_its_socket_unit_with_the_address_and_EADDRINUSE_its_service_does_not_start_and_others_run()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteServer(d);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        d.WriteUnit("busy", Service(d));
        d.WriteUnit("busy.socket", $"[Socket]\nListenStream = [\"127.0.0.1:{port}\"]\n");
        d.WriteUnit("other", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("busy.socket", "failed");
        d.WaitForState("other", "active", "running");
        Assert.Equal("inactive", d.Prop("busy", "ActiveState"));
        Assert.Contains($"cannot listen on ListenStream '127.0.0.1:{port}': bind: EADDRINUSE", d.Log);
        var (code, _, err) = d.Cli("start", "busy");
        Assert.NotEqual(0, code);
        Assert.Contains("busy.socket", err);
    }

    /// <summary>
    /// Debian 12's dbus.service and dbus.socket, imported unedited: dbus-daemon gets the bus socket
    /// by systemd's protocol (--address=systemd:), answers clients, reloads with its own
    /// ExecReload (dbus-send --system) and leaves nothing behind when the daemon stops.
    /// </summary>
    [Fact]
    public async Task Debian_dbus_imported_unedited_serves_the_system_bus_from_its_socket_unit_reloads_and_leaves_nothing()
    {
        Daemon.RequireRoot();
        const string bus = "/run/dbus/system_bus_socket";
        if (!File.Exists("/usr/bin/dbus-daemon") || !File.Exists("/lib/systemd/system/dbus.socket"))
            Assert.Skip("dbus is not installed (Debian package dbus)");
        if (File.Exists(bus))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(bus));
                Assert.Skip($"a system bus already answers on {bus}; this test would take its socket");
            }
            catch (SocketException) { } // a stale file: the socket unit replaces it, as systemd does
        }
        await using var d = new Daemon();
        var input = Path.Combine(d.Root, "systemd");
        Directory.CreateDirectory(input);
        foreach (var f in new[] { "dbus.service", "dbus.socket" }) File.Copy(Path.Combine("/lib/systemd/system", f), Path.Combine(input, f));
        var import = Run("dotnet", Daemon.SupervisorDll, "import", Path.Combine(input, "dbus.service"), Path.Combine(input, "dbus.socket"), "--out", d.Units);
        Assert.True(File.Exists(Path.Combine(d.Units, "dbus.socket.toml")), import);
        Assert.Contains("Requires = [\"dbus.socket\"]", File.ReadAllText(Path.Combine(d.Units, "dbus.toml")));
        try
        {
            d.Start();
            d.WaitForState("dbus.socket", "active", "listening");
            d.WaitForState("dbus", "active", "running");
            Assert.Contains("org.freedesktop.DBus", Run("dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.ListNames"));
            var (code, _, err) = d.Cli("reload", "dbus");
            Assert.True(code == 0, err + d.Log);
            int pid = d.MainPid("dbus");
            Assert.Equal(0, d.Terminate().Code);
            Assert.False(Directory.Exists($"/proc/{pid}"), "dbus-daemon outlived the supervisor's stop");
        }
        finally
        {
            // RemoveOnStop is off (systemd's default): the socket file stays, as under systemd; it is the test's to remove.
            File.Delete(bus);
        }
    }

    private static string Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return output.Result + error.Result;
    }

    /// <summary>stat(1) from outside the daemon, as a person would look.</summary>
    private sealed class Stat(string path)
    {
        public string ModeAndOwner => Run("%a %u");
        public string Mode => Run("%a");

        private string Run(string format)
        {
            using var p = Process.Start(new ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
            var s = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return s;
        }
    }
}
