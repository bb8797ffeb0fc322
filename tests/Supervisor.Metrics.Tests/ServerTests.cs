using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace Supervisor.Metrics.Tests;

/// <summary>/metrics over HTTP as Prometheus asks for it: the text format's content type, gzip when accepted, nothing elsewhere.</summary>
public sealed class ServerTests
{
    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact]
    public async Task Metrics_are_served_as_text_gzip_when_asked_and_other_paths_are_not_found()
    {
        var metrics = new SupervisorMetrics(() => [new UnitSample { Unit = "web", ActiveState = "active", SubState = "running" }], "1", "v2");
        int port = FreePort();
        using var server = MetricsServer.Start("127.0.0.1", port, metrics);
        var ct = TestContext.Current.CancellationToken;

        using var plain = new HttpClient();
        using var text = await plain.GetAsync($"http://127.0.0.1:{port}/metrics", ct);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", text.Content.Headers.ContentType?.ToString());
        Assert.Empty(text.Content.Headers.ContentEncoding);
        var body = await text.Content.ReadAsStringAsync(ct);
        Assert.Contains("supervisor_unit_state{unit=\"web\",state=\"active\"} 1\n", body);

        using var gzipClient = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.GZip });
        using var gzipped = await gzipClient.GetAsync($"http://127.0.0.1:{port}/metrics", ct);
        // The decompressing handler asked for gzip and took the encoding off: the same text comes out.
        Assert.Equal(body.Split('\n').Length, (await gzipped.Content.ReadAsStringAsync(ct)).Split('\n').Length);

        using var raw = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/metrics");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var compressed = await raw.SendAsync(request, ct);
        Assert.Equal(["gzip"], compressed.Content.Headers.ContentEncoding);
        Assert.Equal(new byte[] { 0x1f, 0x8b }, (await compressed.Content.ReadAsByteArrayAsync(ct))[..2]);

        using var other = await plain.GetAsync($"http://127.0.0.1:{port}/", ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var post = await plain.PostAsync($"http://127.0.0.1:{port}/metrics", new StringContent(""), ct);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public void An_address_in_use_is_an_IOException_and_a_host_name_is_refused_by_name()
    {
        var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            var metrics = new SupervisorMetrics(() => [], "1", "v2");
            Assert.ThrowsAny<IOException>(() => MetricsServer.Start("127.0.0.1", ((IPEndPoint)busy.LocalEndpoint).Port, metrics));
            var e = Assert.Throws<InvalidOperationException>(() => MetricsServer.Start("metrics.example", FreePort(), metrics));
            Assert.Contains("'metrics.example' is not an IP address", e.Message);
        }
        finally
        {
            busy.Stop();
        }
    }
}
