using System.Diagnostics;
using System.Net.Sockets;
using Supervisor.Cli.Commands;
using Supervisor.Cli.Control;
using Supervisor.Cli.Tests.Support;
using Supervisor.DBus;
using static Supervisor.Cli.Tests.Support.ApiHarness;

namespace Supervisor.Cli.Tests;

/// <summary>
/// A client never waits for ever: it gives up at --timeout (25 s by default) and says what the
/// daemon was doing. The tests use a short --timeout so they do not wait long; they assert the
/// message, never how long it took.
/// </summary>
public class TimeoutTests : IDisposable
{
    private readonly string _runtime = Path.Combine(Path.GetTempPath(), "supervisor-timeout-test-" + Guid.NewGuid().ToString("N")[..12]);

    public TimeoutTests() => Directory.CreateDirectory(_runtime);

    public void Dispose() => Directory.Delete(_runtime, recursive: true);

    private string Socket => Path.Combine(_runtime, "private");

    private Socket Bind()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(Socket));
        return s;
    }

    [Fact]
    public async Task No_socket_means_no_daemon_and_is_said_at_once()
    {
        var (code, _, error) = await RunCli("list-units", "--runtime-dir", _runtime);
        Assert.Equal(1, code);
        Assert.Contains($"no control socket at '{Socket}': the daemon is not running", error);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_is_not_connectable()
    {
        // A socket file whose process is gone, as after a daemon killed with SIGKILL (.NET would
        // remove the file when its socket is disposed, so another process leaves it behind).
        using (var p = Process.Start("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", Socket]))
            p.WaitForExit();
        Assert.True(File.Exists(Socket) || Directory.GetFileSystemEntries(_runtime).Length == 1, "python3 left no socket file");
        var (code, _, error) = await RunCli("status", "--runtime-dir", _runtime);
        Assert.Equal(1, code);
        Assert.Contains($"nothing listens on '{Socket}' (connection refused): the daemon is not running", error);
    }

    [Fact]
    public async Task A_daemon_that_accepts_nothing_is_given_up_on_at_the_timeout_with_its_pid_and_state()
    {
        using var listener = Bind();
        listener.Listen(8); // connections wait in the backlog; nobody answers the handshake
        var (code, _, error) = await RunCli("start", "web", "--runtime-dir", _runtime, "--timeout", "500ms");
        Assert.Equal(1, code);
        Assert.Contains($"connected to '{Socket}', but the daemon (pid {Environment.ProcessId}, running) did not answer the handshake within 500ms: it is busy or hung", error);
    }

    [Fact]
    public async Task A_call_without_a_reply_is_given_up_on_at_the_timeout()
    {
        var registry = new DBusObjectRegistry();
        var never = new TaskCompletionSource<object[]>();
        registry.Register(ControlApi.ManagerPath, new DBusInterface(ControlApi.ManagerInterface)
            .AddMethod("ListUnits", "", "a(ssssssouso)", (_, _) => new(never.Task), [], ["units"]));
        await using var server = DBusServer.Listen(Socket, (UnixFileMode)0b110_110_110, registry, new DBusServerOptions { Names = [ControlApi.BusName] });

        var (code, _, error) = await RunCli("list-units", "--runtime-dir", _runtime, "--timeout", "1s");
        Assert.Equal(1, code);
        Assert.Contains($"connected to '{Socket}', but the daemon (pid {Environment.ProcessId}, running) did not reply to ListUnits within 1s: it is busy or hung", error);
        never.SetResult([Array.Empty<object>()]);
    }

    [Fact]
    public async Task A_start_that_takes_longer_goes_on_and_the_message_says_how_to_follow_it()
    {
        await using var h = new ApiHarness();
        h.WriteUnit("slow", Sleeper());
        h.Host.NeverStarts.Add("slow");
        await h.StartAsync();

        var (code, _, error) = await RunCli("start", "slow", "--runtime-dir", h.Runtime, "--timeout", "1s");
        Assert.Equal(1, code);
        Assert.Contains("gave up waiting after 1s: the start of 'slow' goes on (it is activating (start) now); " +
            "follow it with 'supervisor status slow' or 'supervisor logs -f slow'", error);
        Assert.Equal("activating", Supervisor.Supervision.StateNames.Name(h.Manager.Units["slow"].Active));
    }

    [Fact]
    public async Task Infinity_waits_as_long_as_it_takes()
    {
        await using var h = new ApiHarness();
        h.WriteUnit("web", Sleeper());
        await h.StartAsync();
        var (code, output, error) = await RunCli("list-units", "--runtime-dir", h.Runtime, "--timeout", "infinity");
        Assert.True(code == 0, error);
        Assert.Contains("web", output);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("0")]
    [InlineData("12 parsecs")]
    public async Task A_timeout_that_is_not_a_positive_duration_is_a_usage_error(string value)
    {
        var (code, _, error) = await RunCli("status", "--runtime-dir", _runtime, "--timeout", value);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains($"--timeout: expected a duration like \"25s\" or \"2min\"", error);
        Assert.Contains($"got \"{value}\"", error);
    }

    [Fact]
    public void A_stopped_daemon_is_named_as_stopped_with_the_command_that_resumes_it()
    {
        using var sleeper = Process.Start("sleep", "1000");
        try
        {
            Process.Start("kill", ["-STOP", sleeper.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            (string Who, string Why) explained;
            while ((explained = DaemonState.Explain(sleeper.Id)).Why.Length == 0 || explained.Why.Contains("busy", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the process did not stop");
                Thread.Sleep(20);
            }
            Assert.Equal($"the daemon (pid {sleeper.Id}) is stopped (by SIGSTOP or a debugger) and", explained.Who);
            Assert.Equal($"; 'kill -CONT {sleeper.Id}' resumes it", explained.Why);
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit();
        }
    }

    [Fact]
    public void The_pid_of_a_listening_daemon_is_read_from_its_socket()
    {
        using var listener = Bind();
        listener.Listen(1);
        Assert.Equal(Environment.ProcessId, DaemonState.ListenerPid(Socket));
    }
}
