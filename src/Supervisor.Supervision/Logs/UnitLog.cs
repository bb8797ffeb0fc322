using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Supervision.Logs;

/// <summary>
/// A unit's log: what its processes write to stdout/stderr, plus the supervisor's own lines about
/// the unit, each timestamped, in <c>STATE/logs/UNIT.log</c>, rotated by size to UNIT.log.1.
/// Service output arrives on a socket pair, read asynchronously (no thread per service).
/// A line that cannot be written (disk full) is dropped and counted, never blocks the service.
/// </summary>
public sealed class UnitLog : IDisposable
{
    /// <summary>Longest line kept; the rest is cut and marked, so one runaway line cannot fill the disk.</summary>
    public const int MaxLineBytes = 16 * 1024;

    private readonly string _path;
    private readonly long _maxBytes;
    private readonly object _gate = new();
    private FileStream? _file;
    private long _dropped;

    public string Unit { get; }
    public long DroppedLines => Interlocked.Read(ref _dropped);

    public UnitLog(string directory, string unit, long maxBytes)
    {
        Unit = unit;
        _maxBytes = maxBytes;
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, unit + ".log");
    }

    public static string PathFor(string directory, string unit) => Path.Combine(directory, unit + ".log");

    /// <summary>Writes one line: "2026-11-25T13:30:00.123Z stream: text".</summary>
    public void Write(string stream, ReadOnlySpan<char> text)
    {
        var line = new StringBuilder(text.Length + 40)
            .Append(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            .Append(' ').Append(stream).Append(": ").Append(text).Append('\n').ToString();
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            try
            {
                _file ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                if (_file.Length + bytes.Length > _maxBytes && _file.Length > 0) Rotate();
                _file.Write(bytes);
                _file.Flush();
            }
            catch (IOException)
            {
                Interlocked.Increment(ref _dropped);
                _file?.Dispose();
                _file = null;
            }
        }
    }

    private void Rotate()
    {
        _file!.Dispose();
        File.Move(_path, _path + ".1", overwrite: true);
        _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>
    /// Copies a process's output from <paramref name="socket"/> into the log line by line until
    /// the process (and every child holding the descriptor) closed it.
    /// </summary>
    public async Task PumpAsync(Socket socket, string stream, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[8192];
        var pending = new List<byte>(256);
        var decoder = Encoding.UTF8;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                int start = 0;
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] != (byte)'\n') continue;
                    Flush(pending, buffer.AsSpan(start, i - start), stream, decoder);
                    start = i + 1;
                }
                if (start < n)
                {
                    var rest = buffer.AsSpan(start, n - start);
                    if (pending.Count + rest.Length > MaxLineBytes)
                    {
                        Flush(pending, rest, stream, decoder, cut: true);
                    }
                    else
                    {
                        foreach (var b in rest) pending.Add(b);
                    }
                }
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
        if (pending.Count > 0) Flush(pending, [], stream, decoder);
        socket.Dispose();
    }

    private void Flush(List<byte> pending, ReadOnlySpan<byte> tail, string stream, Encoding decoder, bool cut = false)
    {
        byte[] all = pending.Count == 0 ? tail.ToArray() : [.. pending, .. tail];
        pending.Clear();
        if (all.Length > MaxLineBytes) { all = all[..MaxLineBytes]; cut = true; }
        var text = decoder.GetString(all).TrimEnd('\r');
        Write(stream, cut ? text + " [line cut at 16 KiB]" : text);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of a unit's log (rotated file first).</summary>
    public static IReadOnlyList<string> Tail(string directory, string unit, int lines)
    {
        var path = PathFor(directory, unit);
        var all = new List<string>();
        foreach (var p in new[] { path + ".1", path })
        {
            if (!File.Exists(p)) continue;
            using var s = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(s);
            string? l;
            while ((l = r.ReadLine()) is not null)
            {
                all.Add(l);
                if (all.Count > lines) all.RemoveAt(0);
            }
        }
        return all;
    }
}
