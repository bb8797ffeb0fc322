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
/// never blocked by it, nor are the supervisor and other units. A line is lost when the queue is
/// full or when writing it fails (disk full, I/O error); <see cref="DroppedLines"/> counts both,
/// and the next line that reaches the file is preceded by one that says how many were lost since
/// the last such notice, and why, so the log and the metric read the same number. Every record
/// reaches the file whole or not at all, and never runs on into the next one. The files are
/// 0640 in a 0700 directory, whatever the umask: a service's output can hold its secrets.
/// </summary>
public sealed class UnitLog : IDisposable
{
    /// <summary>Longest line kept; the rest is cut and marked, so one runaway line cannot fill the disk.</summary>
    public const int MaxLineBytes = 16 * 1024;

    /// <summary>Lines waiting for the disk, per unit, before new ones are dropped.</summary>
    public const int MaxQueuedLines = 10_000;

    /// <summary>rw-r----- for every log file (the 0700 directory keeps the group out as well).</summary>
    public const UnixFileMode LogFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    /// <summary>rwx------ for the log directory: only root lists or reads the services' output.</summary>
    public const UnixFileMode LogDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _files;
    private readonly Func<string, Stream> _open;
    private readonly object _gate = new();
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(MaxQueuedLines)
    {
        FullMode = BoundedChannelFullMode.Wait, SingleReader = true,
    });
    private readonly Task _writer;
    private long _pending;

    // Guarded by _gate, except _overflowed (Interlocked: the pumps count it).
    private Stream? _file;
    private bool _unterminated;
    private long _overflowed, _failed;
    private long _overflowedReported, _failedReported;
    private string? _lastError;

    public string Unit { get; }

    /// <summary>Lines that never reached the file: no room in the queue, or the write failed.</summary>
    public long DroppedLines => Interlocked.Read(ref _overflowed) + Interlocked.Read(ref _failed);

    /// <param name="files">How many rotated files to keep besides the current one (UNIT.log.1 … .N).</param>
    public UnitLog(string directory, string unit, long maxBytes, int files = 1)
        : this(directory, unit, maxBytes, files, OpenFile)
    {
    }

    /// <param name="open">Opens the current file (tests give a stream that fails like a full disk).</param>
    internal UnitLog(string directory, string unit, long maxBytes, int files, Func<string, Stream> open)
    {
        Unit = unit;
        _maxBytes = maxBytes;
        _files = Math.Max(1, files);
        _open = open;
        Directory.CreateDirectory(directory);
        // chmod, not mkdir's mode: the umask cannot widen it, and a directory made 0755 before is closed too.
        File.SetUnixFileMode(directory, LogDirectoryMode);
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
            Interlocked.Increment(ref _overflowed);
        }
    }

    private async Task WriteQueuedAsync()
    {
        await foreach (var line in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            Append(line);
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
    /// loop, never waits for the disk), but is never dropped for want of room in the queue: with
    /// the queue full it is written here.
    /// </summary>
    public void Write(string stream, ReadOnlySpan<char> text)
    {
        var line = Format(stream, text);
        Interlocked.Increment(ref _pending);
        if (_queue.Writer.TryWrite(line)) return;
        Interlocked.Decrement(ref _pending);
        Append(line);
    }

    /// <summary>
    /// Writes one record, preceded by the notice of the lines lost since the last notice, if any;
    /// <paramref name="record"/> null writes only the notice. The notice is never counted as lost
    /// itself: it is written with the next record that reaches the file.
    /// </summary>
    private void Append(string? record)
    {
        lock (_gate)
        {
            long overflowed = Interlocked.Read(ref _overflowed) - _overflowedReported, failed = _failed - _failedReported;
            var notice = overflowed + failed > 0 ? Format("supervisor", LossNotice(overflowed, failed)) : null;
            if (notice is null && record is null) return;
            if (TryAppend(Encoding.UTF8.GetBytes(notice + record)))
            {
                _overflowedReported += overflowed;
                _failedReported += failed;
            }
            else if (record is not null)
            {
                Interlocked.Increment(ref _failed);
            }
        }
    }

    private string LossNotice(long overflowed, long failed)
    {
        var causes = new List<string>(2);
        if (overflowed > 0) causes.Add($"{overflowed} because the service wrote faster than the log could be written");
        if (failed > 0) causes.Add($"{failed} because writing '{_path}' failed ({_lastError})");
        return $"{overflowed + failed} line(s) were lost before this one: {string.Join("; ", causes)}";
    }

    /// <summary>
    /// Appends whole records or nothing. A write cut short (ENOSPC, EIO …) has left the start of a
    /// record in the file: it is cut off again (ftruncate frees blocks, so this works on a full
    /// disk); if even that fails, the file is closed, and the next open starts the next record on
    /// a new line.
    /// </summary>
    private bool TryAppend(byte[] record)
    {
        long start = -1;
        try
        {
            _file ??= Open();
            if (_file.Position > 0 && _file.Position + record.Length > _maxBytes) Rotate();
            start = _file!.Position;
            _file.Write(_unterminated ? [(byte)'\n', .. record] : record);
            _file.Flush();
            _unterminated = false;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _lastError = e.Message;
            CutOff(start);
            return false;
        }
    }

    private void CutOff(long start)
    {
        if (_file is null || start < 0) return;
        try
        {
            _file.SetLength(start);
            _file.Position = start;
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _file.Dispose();
            _file = null;
        }
    }

    /// <summary>Opens the current file at its end, and notes whether it ends inside a record (a write cut short, here or by a supervisor that died mid-write).</summary>
    private Stream Open()
    {
        var file = _open(_path);
        try
        {
            long end = file.Seek(0, SeekOrigin.End);
            if (end > 0)
            {
                file.Position = end - 1;
                _unterminated = file.ReadByte() != '\n';
            }
            else
            {
                _unterminated = false;
            }
            file.Position = end;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Mode 0640 whatever the umask (fchmod after open, which also closes a file made 0644 before).</summary>
    private static FileStream OpenFile(string path)
    {
        var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            // Read too: Open looks at the last byte.
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
            // Unbuffered: every record is written and flushed at once anyway, and a buffer per unit
            // would be 4 KiB held by each of a thousand mostly quiet services.
            BufferSize = 0,
            UnixCreateMode = LogFileMode,
        });
        try
        {
            File.SetUnixFileMode(file.SafeFileHandle, LogFileMode);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private void Rotate()
    {
        _file!.Dispose();
        _file = null;
        // UNIT.log.N-1 → .N … UNIT.log → .1; the oldest falls off.
        for (int i = _files - 1; i >= 1; i--)
            if (File.Exists($"{_path}.{i}")) File.Move($"{_path}.{i}", $"{_path}.{i + 1}", overwrite: true);
        File.Move(_path, _path + ".1", overwrite: true);
        _file = Open();
    }

    /// <summary>
    /// Copies a process's output from <paramref name="socket"/> into the log line by line until
    /// the process (and every child holding the descriptor) closed it.
    /// </summary>
    public Task<string?> PumpAsync(Socket socket, string stream, CancellationToken cancellationToken = default) =>
        PumpAsync(socket, stream, levelPrefix: false, cancellationToken);

    /// <param name="levelPrefix">SyslogLevelPrefix: a kernel-style "&lt;N&gt;" (0–7) at the start of a line is taken off, as systemd does.</param>
    public Task<string?> PumpAsync(Socket socket, string stream, bool levelPrefix, CancellationToken cancellationToken = default) =>
        Pump(socket, stream, levelPrefix, cancellationToken).Completion;

    /// <summary>Starts pumping <paramref name="socket"/> into this log until EOF; the pump can mark where a run's output ends (<see cref="LogPump.EndOfRun"/>).</summary>
    public LogPump Pump(Socket socket, string stream, bool levelPrefix, CancellationToken cancellationToken = default) =>
        LogPump.Start(this, socket, stream, levelPrefix, cancellationToken);

    internal static string? NonEmpty(string line) => string.IsNullOrWhiteSpace(line) ? null : line;

    /// <summary>
    /// Complete lines go to the log; the unfinished tail waits in <paramref name="pending"/> (cut at
    /// MaxLineBytes). Returns the last non-empty line logged, if any.
    /// </summary>
    internal string? Split(byte[] buffer, int n, List<byte> pending, string stream, Encoding decoder, bool levelPrefix)
    {
        string? last = null;
        int start = 0;
        for (int i = 0; i < n; i++)
        {
            if (buffer[i] != (byte)'\n') continue;
            last = NonEmpty(Flush(pending, buffer.AsSpan(start, i - start), stream, decoder, levelPrefix)) ?? last;
            start = i + 1;
        }
        if (start < n)
        {
            var rest = buffer.AsSpan(start, n - start);
            if (pending.Count + rest.Length > MaxLineBytes)
            {
                last = NonEmpty(Flush(pending, rest, stream, decoder, levelPrefix, cut: true)) ?? last;
            }
            else
            {
                foreach (var b in rest) pending.Add(b);
            }
        }
        return last;
    }

    internal string Flush(List<byte> pending, ReadOnlySpan<byte> tail, string stream, Encoding decoder, bool levelPrefix, bool cut = false)
    {
        byte[] all = pending.Count == 0 ? tail.ToArray() : [.. pending, .. tail];
        pending.Clear();
        if (all.Length > MaxLineBytes) { all = all[..MaxLineBytes]; cut = true; }
        var text = decoder.GetString(all).TrimEnd('\r');
        if (levelPrefix && text.Length >= 3 && text[0] == '<' && text[1] is >= '0' and <= '7' && text[2] == '>')
            text = text[3..];
        Enqueue(stream, cut ? text + " [line cut at 16 KiB]" : text);
        return text;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        try { _writer.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        // Lines lost since the last line written are still said, as the file's last line.
        Append(null);
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
