using Supervisor.Linux;
using Supervisor.Linux.Native;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Supervisor.Supervision.Logs;

namespace Supervisor.Supervision.Tests;

/// <summary>A disk of a fixed size that several opened files share, as a log file is reopened after an error.</summary>
internal sealed class FakeDisk
{
    public byte[] Bytes = [];
    public int Length;
    public int Free { get; set; }
    /// <summary>ftruncate fails too, as it can with EIO.</summary>
    public bool TruncateFails { get; set; }
    public int Opens { get; private set; }

    public Stream Open(string path)
    {
        Opens++;
        return new File(this);
    }

    public string Text => Encoding.UTF8.GetString(Bytes, 0, Length);

    private sealed class File(FakeDisk disk) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => true;
        public override long Length => disk.Length;
        public override long Position { get => _position; set => _position = value; }
        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Max(0, Math.Min(count, disk.Length - _position));
            Array.Copy(disk.Bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) =>
            _position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => disk.Length + offset };

        public override void SetLength(long value)
        {
            if (disk.TruncateFails) throw new IOException("Input/output error");
            disk.Free += disk.Length - (int)value;
            disk.Length = (int)value;
        }

        /// <summary>Like write(2) on a full file system: what fits is written, then ENOSPC.</summary>
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int grow = (int)Math.Max(0, _position + buffer.Length - disk.Length);
            int fits = grow <= disk.Free ? buffer.Length : buffer.Length - (grow - disk.Free);
            if (disk.Bytes.Length < _position + fits) Array.Resize(ref disk.Bytes, (int)(_position + fits) * 2);
            buffer[..fits].CopyTo(disk.Bytes.AsSpan((int)_position));
            _position += fits;
            disk.Free -= Math.Max(0, (int)_position - disk.Length);
            disk.Length = Math.Max(disk.Length, (int)_position);
            if (fits < buffer.Length) throw new IOException("No space left on device");
        }
    }
}

public class UnitLogLossTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-log-loss-test-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    private static readonly Regex Record = new(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (stdout|supervisor): ", RegexOptions.CultureInvariant);
    private static readonly Regex Notice = new(@" supervisor: (\d+) line\(s\) were lost before this one: ", RegexOptions.CultureInvariant);
    private static readonly Regex Written = new(@" stdout: line \d{3} x{60}$", RegexOptions.CultureInvariant);

    /// <summary>What a reader of the file sees: every record starts with a stamp; counts of whole lines and of losses.</summary>
    private static (int Whole, long Noticed) Read(string text)
    {
        Assert.EndsWith("\n", text);
        var lines = text[..^1].Split('\n');
        Assert.All(lines, l => Assert.Matches(Record, l));
        return (lines.Count(Written.IsMatch), lines.Select(l => Notice.Match(l)).Where(m => m.Success).Sum(m => long.Parse(m.Groups[1].Value)));
    }

    private static async Task FillAsync(UnitLog log, int lines)
    {
        for (int i = 0; i < lines; i++) log.Write("stdout", $"line {i:D3} " + new string('x', 60));
        await log.FlushAsync();
    }

    [Fact]
    public async Task On_a_full_disk_the_log_and_the_metric_count_the_same_lost_lines_and_no_record_is_cut()
    {
        var disk = new FakeDisk { Free = 4000 };
        using var log = new UnitLog(_dir, "full", 1 << 20, 1, disk.Open);
        await FillAsync(log, 200);
        Assert.InRange(log.DroppedLines, 100, 199);
        // Nothing half written stays behind.
        Assert.EndsWith("\n", disk.Text);

        disk.Free = int.MaxValue / 2; // space comes back
        log.Write("stdout", "after");
        await log.FlushAsync();
        var (whole, noticed) = Read(disk.Text);
        Assert.Equal(200, whole + log.DroppedLines);
        Assert.Equal(log.DroppedLines, noticed);
        Assert.Contains("because writing '", disk.Text);
        Assert.Contains("failed (No space left on device)", disk.Text);
        Assert.EndsWith(" stdout: after\n", disk.Text);
    }

    [Fact]
    public async Task When_the_cut_record_cannot_be_removed_the_next_record_starts_on_a_line_of_its_own()
    {
        var disk = new FakeDisk { Free = 4000, TruncateFails = true };
        using var log = new UnitLog(_dir, "eio", 1 << 20, 1, disk.Open);
        await FillAsync(log, 200);
        disk.Free = int.MaxValue / 2;
        log.Write("stdout", "after");
        await log.FlushAsync();
        // The file was reopened after the failed truncate.
        Assert.True(disk.Opens > 1);
        var (whole, noticed) = Read(disk.Text);
        Assert.Equal(200, whole + log.DroppedLines);
        Assert.Equal(log.DroppedLines, noticed);
        Assert.EndsWith(" stdout: after\n", disk.Text);
    }

    [Fact]
    public async Task Lines_lost_just_before_the_log_is_closed_are_still_said()
    {
        var disk = new FakeDisk { Free = 300 };
        var log = new UnitLog(_dir, "closing", 1 << 20, 1, disk.Open);
        await FillAsync(log, 10);
        disk.Free = 10_000;
        log.Dispose();
        var (whole, noticed) = Read(disk.Text);
        Assert.Equal(10, whole + noticed);
        Assert.Equal(log.DroppedLines, noticed);
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {error.Trim()}");
    }

    [Fact]
    public async Task On_a_real_full_tmpfs_the_counts_agree_and_records_never_fuse()
    {
        if (Libc.GetEuid() != 0) Assert.Skip("needs root: mounts a 32 KiB tmpfs to fill it");
        Directory.CreateDirectory(_dir);
        try
        {
            Run("mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", _dir);
        }
        catch (InvalidOperationException e)
        {
            Assert.Skip($"cannot mount a tmpfs here: {e.Message}");
        }
        try
        {
            var filler = Path.Combine(_dir, "filler");
            File.WriteAllBytes(filler, new byte[16 * 1024]);
            var logs = Path.Combine(_dir, "logs");
            using var log = new UnitLog(logs, "full", 1 << 20);
            await FillAsync(log, 400);
            Assert.True(log.DroppedLines > 0, "the tmpfs never filled up");
            File.Delete(filler);
            log.Write("stdout", "after");
            await log.FlushAsync();
            var (whole, noticed) = Read(File.ReadAllText(UnitLog.PathFor(logs, "full")));
            Assert.Equal(400, whole + log.DroppedLines);
            Assert.Equal(log.DroppedLines, noticed);
        }
        finally
        {
            Run("umount", _dir);
        }
    }

    private const UnixFileMode Open644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Open755 = Open644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    [Theory]
    [InlineData(0u)]      // would make 0666 files and 0777 directories
    [InlineData(0x3fu)]   // 077: would make 0600 files
    public async Task Log_files_are_0640_and_their_directory_0700_whatever_the_umask(uint mask)
    {
        // What an older version left readable by everyone is closed as well.
        var old = Path.Combine(_dir, "old");
        Directory.CreateDirectory(old);
        File.SetUnixFileMode(old, Open755);
        File.WriteAllText(UnitLog.PathFor(old, "web"), "2026-01-01T00:00:00.000Z stdout: before\n");
        File.SetUnixFileMode(UnitLog.PathFor(old, "web"), Open644);
        var fresh = Path.Combine(_dir, "fresh", "logs");

        uint saved = Libc.Umask(mask);
        try
        {
            using var rotating = new UnitLog(fresh, "busy", 1024, files: 2);
            using var reopened = new UnitLog(old, "web", 1 << 20);
            await FillAsync(rotating, 50);
            reopened.Write("stdout", "after");
            await reopened.FlushAsync();
        }
        finally
        {
            Libc.Umask(saved);
        }
        foreach (var dir in new[] { fresh, old })
            Assert.Equal(UnitLog.LogDirectoryMode, File.GetUnixFileMode(dir));
        foreach (var file in new[] { "busy.log", "busy.log.1", "busy.log.2" })
            Assert.Equal(UnitLog.LogFileMode, File.GetUnixFileMode(Path.Combine(fresh, file)));
        Assert.Equal(UnitLog.LogFileMode, File.GetUnixFileMode(UnitLog.PathFor(old, "web")));
        Assert.Equal((UnixFileMode)0b110_100_000, UnitLog.LogFileMode);
        Assert.Equal((UnixFileMode)0b111_000_000, UnitLog.LogDirectoryMode);
    }
}
