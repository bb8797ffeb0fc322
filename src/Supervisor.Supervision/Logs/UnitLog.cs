using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Supervisor.Supervision.Logs;

/// <summary>
/// A unit's log: what its processes write to stdout/stderr, plus the supervisor's own lines about
/// the unit, each timestamped, in <c>STATE/logs/UNIT.log</c>, rotated by size to UNIT.log.1 …
/// UNIT.log.N. Service output arrives on a socket pair, read asynchronously (no thread per
/// service), and is queued for the file: a service that writes faster than the disk takes is
/// never blocked by it, nor are the supervisor and other units; when the queue is full, lines
/// are dropped and counted (<see cref="DroppedLines"/>, exported as a metric), and the log says
/// how many were lost. A line that cannot be written (disk full) is dropped and counted too.
/// </summary>
public sealed class UnitLog : IDisposable
{
    /// <summary>Longest line kept; the rest is cut and marked, so one runaway line cannot fill the disk.</summary>
    public const int MaxLineBytes = 16 * 1024;

    /// <summary>Lines waiting for the disk, per unit, before new ones are dropped.</summary>
    public const int MaxQueuedLines = 10_000;

    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _files;
    private readonly object _gate = new();
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(MaxQueuedLines)
    {
        FullMode = BoundedChannelFullMode.Wait, SingleReader = true,
    });
    private readonly Task _writer;
    private FileStream? _file;
    private long _dropped;
    private long _droppedReported;
    private long _pending;

    public string Unit { get; }
    public long DroppedLines => Interlocked.Read(ref _dropped);

    /// <param name="files">How many rotated files to keep besides the current one (UNIT.log.1 … .N).</param>
    public UnitLog(string directory, string unit, long maxBytes, int files = 1)
    {
        Unit = unit;
        _maxBytes = maxBytes;
        _files = Math.Max(1, files);
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, unit + ".log");
        _writer = Task.Run(WriteQueuedAsync);
    }

    /// <summary>Queues one line of service output; drops it (and counts it) if the disk is behind.</summary>
    public void Enqueue(string stream, string text)
    {
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(Format(stream, text)))
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteQueuedAsync()
    {
        await foreach (var line in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var lost = Interlocked.Read(ref _dropped) - _droppedReported;
            if (lost > 0)
            {
                _droppedReported += lost;
                WriteLine(Format("supervisor", $"{lost} line(s) of output were dropped: the service wrote faster than the log could be written"));
            }
            WriteLine(line);
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Waits until every queued line is on disk (tests, and before reading the log back).</summary>
    public async Task FlushAsync()
    {
        while (Interlocked.Read(ref _pending) > 0) await Task.Delay(10).ConfigureAwait(false);
    }

    private static string Format(string stream, ReadOnlySpan<char> text) =>
        new StringBuilder(text.Length + 40)
            .Append(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            .Append(' ').Append(stream).Append(": ").Append(text).Append('\n').ToString();

    public static string PathFor(string directory, string unit) => Path.Combine(directory, unit + ".log");

    /// <summary>
    /// One line of the supervisor's own ("2026-11-25T13:30:00.123Z stream: text"), in order with the
    /// service's output. It goes through the writer like output (the caller, often the manager's
    /// loop, never waits for the disk), but is never dropped: with the queue full it is written here.
    /// </summary>
    public void Write(string stream, ReadOnlySpan<char> text)
    {
        var line = Format(stream, text);
        Interlocked.Increment(ref _pending);
        if (_queue.Writer.TryWrite(line)) return;
        Interlocked.Decrement(ref _pending);
        WriteLine(line);
    }

    private void WriteLine(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            try
            {
                // Unbuffered: every line is written and flushed at once anyway, and a buffer per unit
                // would be 4 KiB held by each of a thousand mostly quiet services.
                _file ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
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
        // UNIT.log.N-1 → .N … UNIT.log → .1; the oldest falls off.
        for (int i = _files - 1; i >= 1; i--)
            if (File.Exists($"{_path}.{i}")) File.Move($"{_path}.{i}", $"{_path}.{i + 1}", overwrite: true);
        File.Move(_path, _path + ".1", overwrite: true);
        _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>
    /// Copies a process's output from <paramref name="socket"/> into the log line by line until
    /// the process (and every child holding the descriptor) closed it.
    /// </summary>
    public async Task PumpAsync(Socket socket, string stream, CancellationToken cancellationToken = default)
    {
        var pending = new List<byte>();
        var decoder = Encoding.UTF8;
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                // A zero-byte read waits for data without holding a buffer: a thousand quiet services
                // cost no receive buffers. The buffer is borrowed only while there is output to copy.
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                buffer = ArrayPool<byte>.Shared.Rent(8192);
                int n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                Split(buffer, n, pending, stream, decoder);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        if (pending.Count > 0) Flush(pending, [], stream, decoder);
        socket.Dispose();
    }

    /// <summary>Complete lines go to the log; the unfinished tail waits in <paramref name="pending"/> (cut at MaxLineBytes).</summary>
    private void Split(byte[] buffer, int n, List<byte> pending, string stream, Encoding decoder)
    {
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

    private void Flush(List<byte> pending, ReadOnlySpan<byte> tail, string stream, Encoding decoder, bool cut = false)
    {
        byte[] all = pending.Count == 0 ? tail.ToArray() : [.. pending, .. tail];
        pending.Clear();
        if (all.Length > MaxLineBytes) { all = all[..MaxLineBytes]; cut = true; }
        var text = decoder.GetString(all).TrimEnd('\r');
        Enqueue(stream, cut ? text + " [line cut at 16 KiB]" : text);
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        try { _writer.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>
    /// The last <paramref name="lines"/> lines of a unit's log, oldest rotated file first; with
    /// <paramref name="since"/>, only lines stamped at or after it.
    /// </summary>
    public static IReadOnlyList<string> Tail(string directory, string unit, int lines, DateTime? since = null)
    {
        var path = PathFor(directory, unit);
        var rotated = Enumerable.Range(1, 64).Select(i => $"{path}.{i}").TakeWhile(File.Exists).Reverse();
        var all = new Queue<string>();
        foreach (var p in rotated.Append(path))
        {
            if (!File.Exists(p)) continue;
            using var s = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(s);
            string? l;
            while ((l = r.ReadLine()) is not null)
            {
                if (since is { } t && !(StampOf(l) is { } stamp && stamp >= t)) continue;
                all.Enqueue(l);
                if (all.Count > lines) all.Dequeue();
            }
        }
        return [.. all];
    }

    /// <summary>The UTC time at the start of a log line, or null.</summary>
    public static DateTime? StampOf(string line) =>
        line.Length >= 24 && DateTime.TryParseExact(line.AsSpan(0, 24), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
