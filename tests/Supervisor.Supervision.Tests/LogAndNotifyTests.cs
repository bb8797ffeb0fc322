using Supervisor.Linux;
using System.Diagnostics;
using System.Net.Sockets;
using Supervisor.Supervision.Logs;
using Supervisor.Supervision.Notify;

namespace Supervisor.Supervision.Tests;

public class UnitLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-log-test-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    [Fact]
    public async Task Output_is_captured_line_by_line_with_timestamps()
    {
        using var log = new UnitLog(_dir, "web", 1 << 20);
        var (read, writeFd) = Supervisor.Linux.UnixSockets.OutputPair();
        // Written in pieces that split lines, as a real process's output arrives.
        using (var w = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(writeFd, true), FileAccess.Write, 1))
        {
            w.Write("on"u8); w.Flush();
            await Task.Delay(20, TestContext.Current.CancellationToken);
            w.Write("e\ntw"u8); w.Flush();
            await Task.Delay(20, TestContext.Current.CancellationToken);
            w.Write("o\nno newline"u8); w.Flush();
        }
        await log.PumpAsync(read, "stdout", TestContext.Current.CancellationToken);
        await log.FlushAsync();
        var lines = UnitLog.Tail(_dir, "web", 10);
        Assert.Equal(3, lines.Count);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z stdout: one$", lines[0]);
        Assert.EndsWith(" stdout: two", lines[1]);
        Assert.EndsWith(" stdout: no newline", lines[2]);
    }

    [Fact]
    public async Task A_read_end_that_arrives_non_blocking_is_pumped_like_a_new_one()
    {
        // As after a supervisor's kill -9: the read end comes back from the fd holder with the
        // O_NONBLOCK the killed supervisor's .NET set on it, and is wrapped in a new Socket.
        using var log = new UnitLog(_dir, "adopted", 1 << 20);
        var (first, writeFd) = Supervisor.Linux.UnixSockets.OutputPair();
        first.Blocking = false;
        int copy = Supervisor.Linux.Native.Libc.Fcntl((int)first.Handle, Supervisor.Linux.Native.Libc.F_DUPFD_CLOEXEC, 3);
        Assert.True(copy >= 0);
        first.Dispose();
        var adopted = new Socket(new SafeSocketHandle(copy, ownsHandle: true));
        using (var w = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(writeFd, true), FileAccess.Write, 1))
        {
            w.Write("written meanwhile\n"u8); w.Flush();
            var pump = log.PumpAsync(adopted, "stdout", TestContext.Current.CancellationToken);
            w.Write("and after\n"u8); w.Flush();
            w.Close();
            Assert.Equal("and after", await pump);
        }
        await log.FlushAsync();
        var lines = UnitLog.Tail(_dir, "adopted", 10);
        Assert.Equal(2, lines.Count);
        Assert.EndsWith(" stdout: written meanwhile", lines[0]);
        Assert.EndsWith(" stdout: and after", lines[1]);
    }

    [Fact]
    public async Task Keeps_the_configured_number_of_rotated_files()
    {
        using var log = new UnitLog(_dir, "many", 1024, files: 3);
        for (int i = 0; i < 400; i++) log.Write("stdout", $"line {i:D4} " + new string('x', 40));
        await log.FlushAsync();
        var path = UnitLog.PathFor(_dir, "many");
        Assert.True(File.Exists(path + ".3"));
        Assert.False(File.Exists(path + ".4"));
        var tail = UnitLog.Tail(_dir, "many", 1000);
        Assert.Contains("line 0399", tail[^1]);
        // Oldest kept first, in order: the lines read back are increasing.
        var numbers = tail.Select(l => int.Parse(l.Split("line ")[1][..4])).ToList();
        Assert.Equal(numbers.Order(), numbers);
    }

    [Fact]
    public async Task A_service_faster_than_the_disk_loses_lines_counted_not_blocks()
    {
        using var log = new UnitLog(_dir, "flood", 64L << 20);
        for (int i = 0; i < UnitLog.MaxQueuedLines * 3; i++) log.Enqueue("stdout", $"flood {i}");
        await log.FlushAsync();
        var written = UnitLog.Tail(_dir, "flood", int.MaxValue).Count(l => l.Contains(" stdout: flood ", StringComparison.Ordinal));
        // Every line is either written or counted as dropped; none vanishes silently.
        Assert.Equal(UnitLog.MaxQueuedLines * 3, written + log.DroppedLines);
        if (log.DroppedLines > 0)
            Assert.Contains(UnitLog.Tail(_dir, "flood", int.MaxValue), l => l.Contains("because the service wrote faster than the log could be written", StringComparison.Ordinal));
    }

    [Fact]
    public void Since_keeps_only_lines_at_or_after_the_time()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllLines(UnitLog.PathFor(_dir, "t"), [
            "2026-01-01T10:00:00.000Z stdout: old",
            "2026-01-01T11:00:00.000Z stdout: new",
            "2026-01-01T12:00:00.000Z stdout: newer"]);
        var lines = UnitLog.Tail(_dir, "t", 10, new DateTime(2026, 1, 1, 11, 0, 0, DateTimeKind.Utc));
        Assert.Equal(["2026-01-01T11:00:00.000Z stdout: new", "2026-01-01T12:00:00.000Z stdout: newer"], lines);
    }

    [Fact]
    public async Task Rotates_by_size_and_tail_reads_across_the_rotation()
    {
        using var log = new UnitLog(_dir, "busy", 4096);
        for (int i = 0; i < 200; i++) log.Write("stdout", $"line {i:D4} " + new string('x', 40));
        await log.FlushAsync();
        Assert.True(File.Exists(UnitLog.PathFor(_dir, "busy") + ".1"));
        Assert.True(new FileInfo(UnitLog.PathFor(_dir, "busy")).Length <= 4096);
        var tail = UnitLog.Tail(_dir, "busy", 5);
        Assert.Equal(5, tail.Count);
        Assert.Contains("line 0199", tail[^1]);
        Assert.Contains("line 0195", tail[0]);
    }

    [Fact]
    public async Task A_runaway_line_is_cut_not_kept_whole()
    {
        using var log = new UnitLog(_dir, "spam", 1 << 20);
        var (read, writeFd) = Supervisor.Linux.UnixSockets.OutputPair();
        using (var w = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(writeFd, true), FileAccess.Write))
            w.Write(System.Text.Encoding.ASCII.GetBytes(new string('a', 100_000) + "\nok\n"));
        await log.PumpAsync(read, "stderr", TestContext.Current.CancellationToken);
        await log.FlushAsync();
        var lines = UnitLog.Tail(_dir, "spam", 10);
        Assert.Contains("[line cut at 16 KiB]", lines[0]);
        Assert.True(lines[0].Length < UnitLog.MaxLineBytes + 100);
        Assert.EndsWith(" stderr: ok", lines[^1]);
    }
}

public class NotifySocketTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-notify-test-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    private static bool Has(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, program)));

    [Fact]
    public async Task The_real_systemd_notify_is_heard_and_a_sender_outside_the_unit_is_not()
    {
        if (!Has("systemd-notify")) Assert.Skip("systemd-notify is not installed");
        using var socket = new NotifySocket(Path.Combine(_dir, "web"));
        var heard = new List<NotifyMessage>();
        var rejected = new List<string>();
        var allowed = new HashSet<int>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var loop = socket.RunAsync(pid => { lock (allowed) return allowed.Contains(pid) || IsChildOf(pid, allowed); },
            (m, _, _) => { lock (heard) heard.Add(m); }, r => { lock (rejected) rejected.Add(r); }, cts.Token);

        // Inside the "unit": a shell we trust, which runs systemd-notify as its child and waits a moment
        // so the sender can still be identified when the message is read (as with any sd_notify client).
        var trusted = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "read go; systemd-notify --ready --status='serving 3 clients'; sleep 2"])
        { RedirectStandardInput = true, Environment = { ["NOTIFY_SOCKET"] = socket.Path } })!;
        lock (allowed) allowed.Add(trusted.Id);
        await trusted.StandardInput.WriteLineAsync("go");
        trusted.StandardInput.Close();

        // Outside the unit: the same message must be ignored.
        using (var stranger = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "systemd-notify WATCHDOG=1; sleep 1"]) { Environment = { ["NOTIFY_SOCKET"] = socket.Path } })!)
            await stranger.WaitForExitAsync(TestContext.Current.CancellationToken);

        await trusted.WaitForExitAsync(TestContext.Current.CancellationToken);
        trusted.Dispose();
        for (int i = 0; i < 100 && (heard.Count == 0 || rejected.Count == 0); i++) await Task.Delay(50, TestContext.Current.CancellationToken);
        cts.Cancel();
        await loop;

        var m = Assert.Single(heard);
        Assert.True(m.Ready);
        Assert.Equal("serving 3 clients", m.Status);
        Assert.Contains(rejected, r => r.Contains("not in this unit's cgroup"));
    }

    /// <summary>Stands in for "is in the unit's cgroup": the pid or its parent is a trusted process.</summary>
    private static bool IsChildOf(int pid, HashSet<int> parents)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            return parents.Contains(ppid);
        }
        catch (IOException) { return false; }
    }

    [Fact]
    public async Task Our_own_client_datagram_with_credentials()
    {
        using var socket = new NotifySocket(Path.Combine(_dir, "svc"));
        var heard = new TaskCompletionSource<(NotifyMessage, int)>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var loop = socket.RunAsync(_ => true, (m, pid, _) => heard.TrySetResult((m, pid)), _ => { }, cts.Token);
        using (var client = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified))
            await client.SendToAsync("READY=1\nMAINPID=4242\n"u8.ToArray(), new UnixDomainSocketEndPoint(socket.Path), TestContext.Current.CancellationToken);
        var (msg, sender) = await heard.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(msg.Ready);
        Assert.Equal(4242, msg.MainPid);
        Assert.Equal(Environment.ProcessId, sender);
        cts.Cancel();
        await loop;
    }

    [Fact]
    public async Task A_descriptor_sent_with_FDSTORE_comes_out_as_a_store_request_and_one_sent_without_it_is_closed()
    {
        using var socket = new NotifySocket(Path.Combine(_dir, "store"));
        var heard = new System.Collections.Concurrent.BlockingCollection<(NotifyMessage Message, FdStoreRequest? Store)>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var loop = socket.RunAsync(_ => true, (m, _, store) => heard.Add((m, store)), _ => { }, cts.Token);
        var pipe = Path.Combine(_dir, "memo");
        File.WriteAllText(pipe, "memo");
        using var file = File.OpenHandle(pipe);
        using (var client = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified))
        {
            client.Connect(new UnixDomainSocketEndPoint(socket.Path));
            UnixSockets.SendWithFd(client, "FDSTORE=1\nFDNAME=memo\nFDPOLL=0"u8, (int)file.DangerousGetHandle());
            UnixSockets.SendWithFd(client, "STATUS=no store"u8, (int)file.DangerousGetHandle());
        }
        var (stored, request) = heard.Take(cts.Token);
        Assert.True(stored.FdStore);
        using (request)
        {
            Assert.NotNull(request);
            Assert.Equal(("memo", false, 1), (request.Name, request.Poll, request.Fds.Count));
            Assert.Equal(Supervisor.Linux.Files.Statx.Identity(pipe), Supervisor.Linux.Files.Statx.Identity($"/proc/self/fd/{request.Fds[0].Fd}"));
        }
        var (plain, none) = heard.Take(cts.Token);
        Assert.Equal("no store", plain.Status);
        Assert.Null(none);
        // Nothing of the second message's copy is left open in this process: only our own handle leads to the file.
        Assert.Single(Directory.GetFiles("/proc/self/fd"), f => new FileInfo(f).LinkTarget == pipe);
        cts.Cancel();
        await loop;
    }
}
