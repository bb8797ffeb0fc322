using System.Net;
using System.Net.Sockets;
using System.Text;
using Supervisor.Runtime.Health;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>The http and tcp probe against real loopback listeners, and the bound on what a probe's output may put in the log.</summary>
public class ProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private static ProbeSpec Http(int port, string path = "/healthz") =>
        new() { Check = ProbeCheck.Http, Url = $"http://127.0.0.1:{port}{path}", Host = "127.0.0.1", Port = port, Path = path };

    /// <summary>A listener that answers each connection with <paramref name="answer"/> (null: accepts and never answers); returns its port.</summary>
    private static (TcpListener Listener, Task<string> Request) Serve(string? answer)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var request = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[4096];
            int n = await stream.ReadAsync(buffer);
            if (answer is null)
            {
                await Task.Delay(Timeout * 2);
                return "";
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes(answer));
            return Encoding.ASCII.GetString(buffer, 0, n);
        });
        return (listener, request);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, "HTTP 200")]
    [InlineData("HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", true, "HTTP 302")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\n\r\n", false, "HTTP 503")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n", false, "not an HTTP answer: SSH-2.0-OpenSSH_9.2")]
    public async Task An_http_probe_passes_on_200_to_399_only(string answer, bool ok, string detail)
    {
        var (listener, request) = Serve(answer);
        using var _ = listener;
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var result = await NetworkProbe.RunAsync(Http(port), null, false, Timeout, TestContext.Current.CancellationToken);
        Assert.Equal(ok, result.Ok);
        Assert.EndsWith(detail, result.Detail);
        Assert.StartsWith("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:" + port, await request);
    }

    [Fact]
    public async Task A_listener_that_never_answers_fails_the_probe_at_its_timeout()
    {
        var (listener, _) = Serve(null);
        using var __ = listener;
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var result = await NetworkProbe.RunAsync(Http(port), null, false, TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        Assert.False(result.Ok);
        Assert.Contains("no answer from", result.Detail);
        Assert.Contains("within TimeoutSec=300ms", result.Detail);
    }

    [Fact]
    public async Task A_tcp_probe_passes_on_connect_and_fails_on_a_closed_port()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var tcp = new ProbeSpec { Check = ProbeCheck.Tcp, Address = $"127.0.0.1:{port}", Host = "127.0.0.1", Port = port };
        Assert.True((await NetworkProbe.RunAsync(tcp, null, false, Timeout, TestContext.Current.CancellationToken)).Ok);
        listener.Stop();
        var closed = await NetworkProbe.RunAsync(tcp, null, false, Timeout, TestContext.Current.CancellationToken);
        Assert.False(closed.Ok);
        Assert.Contains("refused", closed.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_unit_with_its_own_network_and_no_main_process_is_never_probed_from_the_host()
    {
        var (listener, _) = Serve("HTTP/1.1 200 OK\r\n\r\n");
        using var __ = listener;
        var result = await NetworkProbe.RunAsync(Http(((IPEndPoint)listener.LocalEndpoint).Port), null, true, Timeout, TestContext.Current.CancellationToken);
        Assert.False(result.Ok);
        Assert.Equal("no main process whose network namespace to probe in", result.Detail);
    }

    [Fact]
    public void Probe_output_is_one_line_of_at_most_200_bytes_without_control_characters()
    {
        Assert.Equal("first", ProbeOutput.FirstLine("\n  \nfirst\nsecond\n"u8));
        Assert.Null(ProbeOutput.FirstLine("\n \n"u8));
        var longLine = ProbeOutput.Bound(new string('é', 300));
        Assert.True(Encoding.UTF8.GetByteCount(longLine.TrimEnd('…')) <= ProbeOutput.MaxLineBytes);
        Assert.EndsWith("…", longLine);
        Assert.Equal("a?b", ProbeOutput.Bound("a\u001b" + "b"));
    }
}
