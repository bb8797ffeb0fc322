using System.Net;
using System.Net.Sockets;
using System.Text;
using Supervisor.Linux;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Health;

/// <summary>
/// http and tcp probes: a connect to a loopback address (the loader refuses any other) from a
/// socket made in the unit's network namespace (<see cref="NetNamespace"/>), so a unit with its
/// own "net" namespace is reached on its own loopback, and a probe can reach nothing the unit's
/// own loopback does not offer. http is one HTTP/1.1 GET with "Connection: close"; a status from
/// 200 to 399 is success (Kubernetes); redirects are not followed; at most 4 KiB of the answer is read.
/// </summary>
internal static class NetworkProbe
{
    private const int MaxAnswerBytes = 4096;

    /// <param name="ownNetwork">The unit has a network namespace of its own (or joins a named one): never probe from ours.</param>
    public static async Task<(bool Ok, string Detail)> RunAsync(ProbeSpec probe, int? mainPid, bool ownNetwork, TimeSpan timeout, CancellationToken stopping)
    {
        if (ownNetwork && mainPid is null) return (false, "no main process whose network namespace to probe in");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        cts.CancelAfter(timeout);
        // "localhost" is 127.0.0.1 without a resolver: the unit's /etc/hosts is not ours to read.
        var ip = probe.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(probe.Host.Trim('[', ']'));
        Socket socket;
        try
        {
            socket = mainPid is { } pid ? NetNamespace.TcpSocketIn(pid, ip.AddressFamily) : new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (IOException e)
        {
            return (false, e.Message);
        }
        using var _ = socket;
        try
        {
            await socket.ConnectAsync(new IPEndPoint(ip, probe.Port), cts.Token).ConfigureAwait(false);
            if (probe.Check == ProbeCheck.Tcp) return (true, $"connected to {probe.Address}");
            return await GetAsync(socket, probe, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (false, $"no answer from {Target(probe)} within TimeoutSec={Units.Values.Duration.FromMilliseconds((long)timeout.TotalMilliseconds)}");
        }
        catch (SocketException e)
        {
            return (false, $"{Target(probe)}: {e.Message}");
        }
    }

    private static string Target(ProbeSpec p) => p.Check == ProbeCheck.Tcp ? p.Address! : p.Url!;

    private static async Task<(bool, string)> GetAsync(Socket socket, ProbeSpec probe, CancellationToken ct)
    {
        var host = probe.Host.Contains(':') ? $"[{probe.Host}]" : probe.Host;
        var request = $"GET {probe.Path} HTTP/1.1\r\nHost: {host}:{probe.Port}\r\nUser-Agent: supervisor-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, ct).ConfigureAwait(false);
        var buffer = new byte[MaxAnswerBytes];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
            if (Array.IndexOf(buffer, (byte)'\n', 0, total) >= 0) break; // the status line is all we need
        }
        var statusLine = ProbeOutput.FirstLine(buffer.AsSpan(0, total));
        // "HTTP/1.1 200 OK": the second word is the status.
        var words = statusLine?.Split(' ', 3);
        if (words is not { Length: >= 2 } || !words[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(words[1], out int status))
            return (false, $"{probe.Url}: not an HTTP answer" + (statusLine is null ? " (connection closed)" : $": {statusLine}"));
        return (status is >= 200 and < 400, $"{probe.Url}: HTTP {status}");
    }
}
