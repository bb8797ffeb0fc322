using System.IO.Compression;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Supervisor.Metrics;

/// <summary>
/// GET /metrics on one address, served by Kestrel with nothing but this handler (no routing, no
/// logging providers): the text of <see cref="SupervisorMetrics.ScrapeAsync"/> as
/// text/plain; version=0.0.4, gzip-compressed (fastest level) when the client asks for it, as
/// Prometheus does. Any other path is 404, any other method 405.
/// </summary>
public sealed class MetricsServer : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly WebApplication _app;

    private MetricsServer(WebApplication app) => _app = app;

    /// <summary>Listens on <paramref name="host"/> (an IP address, "localhost" or "*") and <paramref name="port"/>; throws IOException when the address is taken.</summary>
    public static MetricsServer Start(string host, int port, SupervisorMetrics metrics)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            Listen(o, host, port);
        });
        var app = builder.Build();
        app.Run(context => Serve(context, metrics));
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }
        return new MetricsServer(app);
    }

    private static void Listen(KestrelServerOptions o, string host, int port)
    {
        if (host == "localhost") o.ListenLocalhost(port);
        else if (host is "*" or "") o.ListenAnyIP(port);
        else if (IPAddress.TryParse(host, out var address)) o.Listen(address, port);
        else throw new InvalidOperationException($"'{host}' is not an IP address (or localhost, or * for every address)");
    }

    private static async Task Serve(HttpContext context, SupervisorMetrics metrics)
    {
        var request = context.Request;
        var response = context.Response;
        if (request.Path != "/metrics")
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        bool head = HttpMethods.IsHead(request.Method);
        if (!head && !HttpMethods.IsGet(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }
        bool gzip = AcceptsGzip(request);
        response.ContentType = ContentType;
        if (gzip)
        {
            response.Headers.ContentEncoding = "gzip";
            response.Headers.Vary = "Accept-Encoding";
        }
        await metrics.ScrapeAsync((text, cancel) => Send(response, text, gzip, head, cancel), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task Send(HttpResponse response, ReadOnlyMemory<byte> text, bool gzip, bool head, CancellationToken cancellationToken)
    {
        if (!gzip)
        {
            response.ContentLength = text.Length;
            if (!head) await response.Body.WriteAsync(text, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (head) return;
        await using var compressed = new GZipStream(response.Body, CompressionLevel.Fastest, leaveOpen: true);
        await compressed.WriteAsync(text, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Accept-Encoding names gzip (or *) without q=0.</summary>
    internal static bool AcceptsGzip(HttpRequest request)
    {
        foreach (var header in request.Headers.AcceptEncoding)
        {
            foreach (var part in (header ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var token = part.Split(';', 2, StringSplitOptions.TrimEntries);
                if (!token[0].Equals("gzip", StringComparison.OrdinalIgnoreCase) && token[0] != "*") continue;
                if (token.Length == 2 && token[1].Replace(" ", "", StringComparison.Ordinal) is "q=0" or "q=0.0" or "q=0.00" or "q=0.000") continue;
                return true;
            }
        }
        return false;
    }

    public void Dispose()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)_app).Dispose();
    }
}
