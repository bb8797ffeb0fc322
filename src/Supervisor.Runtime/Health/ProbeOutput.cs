using System.Net.Sockets;
using System.Text;

namespace Supervisor.Runtime.Health;

/// <summary>What a probe said, bounded: the first non-empty line, at most <see cref="MaxLineBytes"/> bytes.</summary>
internal static class ProbeOutput
{
    /// <summary>The longest piece of a probe's output that reaches the unit's log.</summary>
    public const int MaxLineBytes = 200;

    /// <summary>Reads at most <paramref name="maxBytes"/> (then stops reading) and returns the first line; null when there was none.</summary>
    public static async Task<string?> FirstLineAsync(Socket socket, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new byte[maxBytes];
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                total += n;
                if (Array.IndexOf(buffer, (byte)'\n', 0, total) is var nl && nl >= 0 && buffer.AsSpan(0, nl).Trim((byte)' ').Length > 0) break;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        return FirstLine(buffer.AsSpan(0, total));
    }

    public static string? FirstLine(ReadOnlySpan<byte> bytes)
    {
        foreach (var raw in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length > 0) return Bound(line);
        }
        return null;
    }

    /// <summary>At most <see cref="MaxLineBytes"/> bytes of UTF-8, cut at a character, control characters shown as '?'.</summary>
    public static string Bound(string line)
    {
        var sb = new StringBuilder();
        int bytes = 0;
        foreach (var rune in line.EnumerateRunes())
        {
            var r = Rune.IsControl(rune) ? new Rune('?') : rune;
            if (bytes + r.Utf8SequenceLength > MaxLineBytes)
            {
                sb.Append('…');
                break;
            }
            bytes += r.Utf8SequenceLength;
            sb.Append(r.ToString());
        }
        return sb.ToString();
    }
}
