using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>Socket units: addresses as systemd reads them, refused where they are written, and the rules between a socket and its service.</summary>
public class SocketKeyTests
{
    private static (UnitDefinition? Unit, List<Diagnostic> Diagnostics) Socket(string keys) =>
        Parse.Service("[Socket]\n" + keys + "\n", "web.socket", UnitKind.Socket);

    [Fact]
    public void Every_address_form_of_systemd_is_read()
    {
        var (u, d) = Socket("ListenStream = [\"8080\", \"127.0.0.1:81\", \"[::1]:82\", \"/run/web.sock\", \"@web\"]\nListenDatagram = [\"514\"]");
        Assert.Empty(d);
        var a = u!.Socket.ListenStream;
        Assert.Equal((null, 8080), (a[0].Ip, a[0].Port));
        Assert.Equal(("127.0.0.1", 81), (a[1].Ip!.ToString(), a[1].Port));
        Assert.Equal(("::1", 82), (a[2].Ip!.ToString(), a[2].Port));
        Assert.True(a[3].IsUnixFile);
        Assert.Equal(("web", true), (a[4].UnixPath, a[4].Abstract));
        Assert.Equal(SocketKind.Datagram, u.Socket.ListenDatagram[0].Kind);
        Assert.Equal(0x1B6u, u.Socket.SocketMode);
    }

    [Theory]
    [InlineData("[\"70000\"]", "web.socket.toml:2:16: web.socket: [Socket] ListenStream: port 70000 in \"70000\" is out of range 1–65535")]
    [InlineData("[\"127.0.0.1:0\"]", "web.socket.toml:2:16: web.socket: [Socket] ListenStream: port 0 in \"127.0.0.1:0\" is out of range 1–65535")]
    [InlineData("[\"run/web.sock\"]", "web.socket.toml:2:16: web.socket: [Socket] ListenStream: \"run/web.sock\" is a relative path; a unix socket path must be absolute (start with '/'), an abstract name starts with '@'")]
    [InlineData("[\"300.1.1.1:80\"]", "web.socket.toml:2:16: web.socket: [Socket] ListenStream: \"300.1.1.1\" in \"300.1.1.1:80\" is not an IP address (a host name is not resolved, as in systemd)")]
    [InlineData("[\"localhost:80\"]", "web.socket.toml:2:16: web.socket: [Socket] ListenStream: \"localhost\" in \"localhost:80\" is not an IP address (a host name is not resolved, as in systemd)")]
    public void An_address_that_does_not_parse_is_refused_with_file_line_column_and_the_cause(string value, string message) =>
        Assert.Equal(message, Assert.Single(Socket("ListenStream = " + value).Diagnostics).ToString());

    [Fact]
    public void Accept_yes_loads_with_its_template_and_its_connection_limits()
    {
        using var dir = new TempUnits();
        dir.Write("echo@.toml", "[Service]\nExecStart = [\"/bin/cat\"]\nStandardInput = \"socket\"\n");
        dir.Write("echo.socket.toml", "[Socket]\nListenStream = [\"7777\"]\nAccept = true\nMaxConnections = 3\n");
        var set = dir.Load();
        Assert.DoesNotContain(set.Diagnostics, d => d.Severity == Severity.Error);
        var socket = set.Units["echo.socket"].Definition;
        Assert.Equal((true, 3, 3), (socket.Socket.Accept, socket.Socket.MaxConnections, socket.Socket.EffectiveMaxConnectionsPerSource));
        Assert.Equal("echo@", SocketUnits.ServiceOf(socket));
        Assert.Equal("echo@0-127.0.0.1:7777-127.0.0.1:5000", SocketUnits.ConnectionInstance(socket, "0-127.0.0.1:7777-127.0.0.1:5000"));
    }

    [Theory]
    [InlineData("ListenDatagram = [\"514\"]\nAccept = true", "echo@.toml", "web.socket.toml:2:18: web.socket: [Socket] ListenDatagram cannot be used with Accept=yes: a datagram socket has no connections to accept (systemd refuses it too)")]
    [InlineData("ListenStream = [\"80\"]\nAccept = true\nService = \"echo\"", "echo@.toml", "web.socket.toml:4:11: web.socket: [Socket] Service cannot be used with Accept=yes: each connection starts an instance of the template of the socket's own name (systemd refuses it too)")]
    [InlineData("ListenStream = [\"80\"]\nAccept = true", "echo@.toml", "web.socket.toml:3:10: web.socket: [Socket] Accept=yes starts an instance of the template 'web@' per connection, and there is no web@.toml")]
    public void Accept_yes_is_refused_with_a_datagram_socket_a_Service_or_no_template_at_the_key(string keys, string other, string message)
    {
        using var dir = new TempUnits();
        dir.Write(other, "[Service]\nExecStart = [\"/bin/cat\"]\nStandardInput = \"socket\"\n");
        dir.Write("echo.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        dir.Write("web.socket.toml", "[Socket]\n" + keys + "\n");
        var set = dir.Load();
        Assert.False(set.Units.ContainsKey("web.socket"));
        Assert.Contains(set.Diagnostics, d => d.Unit == "web.socket" && d.ToString().Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void StandardInput_socket_outside_a_template_is_refused_at_the_key_and_stdout_follows_it_when_not_written()
    {
        var (_, d) = Parse.Service("[Service]\nExecStart = [\"/bin/cat\"]\nStandardInput = \"socket\"\n", "plain", UnitKind.Service);
        Assert.Contains("plain.toml:3:17: plain: [Service] StandardInput \"socket\" is the connection of an Accept=yes socket unit", Assert.Single(d).ToString());
        var (t, none) = Parse.Service("[Service]\nExecStart = [\"/bin/cat\"]\nStandardInput = \"socket\"\n", "echo@", UnitKind.Service);
        Assert.Empty(none);
        Assert.Equal((StdOutputKind.Socket, StdOutputKind.Socket, true), (t!.Service.EffectiveStandardOutput.Kind, t.Service.EffectiveStandardError.Kind, t.Service.UsesConnectionOnStdio));
        var (j, _) = Parse.Service("[Service]\nExecStart = [\"/bin/cat\"]\nStandardInput = \"socket\"\nStandardOutput = \"journal\"\n", "echo@", UnitKind.Service);
        Assert.Equal(StdOutputKind.Log, j!.Service.EffectiveStandardOutput.Kind);
    }

    [Fact]
    public void A_socket_without_its_service_and_a_service_naming_a_missing_socket_are_bad_and_the_rest_loads()
    {
        using var dir = new TempUnits();
        dir.Write("orphan.socket.toml", "[Socket]\nListenStream = [\"/run/orphan.sock\"]\n");
        dir.Write("web.toml", "[Service]\nExecStart = [\"/bin/true\"]\nSockets = [\"nosuch.socket\"]\n");
        dir.Write("ok.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        dir.Write("ok.socket.toml", "[Socket]\nListenStream = [\"8080\"]\n");
        var set = dir.Load();
        Assert.Equal(["ok", "ok.socket"], set.Units.Keys.Order(StringComparer.Ordinal));
        Assert.Contains(set.Diagnostics, d => d.Unit == "orphan.socket" && d.ToString().Contains("the service 'orphan' this socket starts does not exist"));
        Assert.Contains(set.Diagnostics, d => d.Unit == "web" && d.ToString().Contains("socket unit 'nosuch.socket' does not exist"));
    }

    [Fact]
    public void A_socket_belongs_to_the_service_of_its_name_or_its_Service_and_to_services_naming_it()
    {
        var web = new UnitDefinition { Name = "web", Kind = UnitKind.Service, Sources = ["web.toml"], Service = new() { Sockets = ["extra.socket"] } };
        var own = new UnitDefinition { Name = "web.socket", Kind = UnitKind.Socket, Sources = ["web.socket.toml"] };
        var other = new UnitDefinition { Name = "api.socket", Kind = UnitKind.Socket, Sources = ["api.socket.toml"], Socket = new() { Service = "web" } };
        var elsewhere = new UnitDefinition { Name = "db.socket", Kind = UnitKind.Socket, Sources = ["db.socket.toml"] };
        Assert.Equal(["extra.socket", "api.socket", "web.socket"], SocketUnits.SocketsOf(web, [own, other, elsewhere]));
        Assert.Equal("web.socket", SocketUnits.FdName(own));
    }
}
