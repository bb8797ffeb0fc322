namespace Supervisor.Integration.Tests;

/// <summary>
/// A crash-looping service's output across its RestartSec=0 restarts (the main process's log
/// channels are kept from one run to the next) and what the daemon holds after many of them,
/// against a real daemon: the log read from its file, the descriptors from /proc.
/// </summary>
public class RestartOutputDaemonTests
{
    /// <summary>
    /// A unit restarted at once whatever its end (no start limit), running <paramref name="script"/>
    /// with $$i = its run number, counted in the file "n" (unit-file escaping: $$ for $, %% for %).
    /// </summary>
    private static void CrashLoop(Daemon d, string unit, string script)
    {
        var n = Path.Combine(d.Root, "n");
        d.WriteUnit(unit, $$"""
            [Service]
            Restart = "always"
            RestartSec = "0"
            StartLimitIntervalSec = "0"
            ExecStart = ["/bin/sh", "-c", "i=$$(( $$(cat {{n}} 2>/dev/null || echo 0) + 1 )); echo $$i > {{n}}; {{script}}"]
            """);
    }

    private static string Counter(Daemon d) => File.Exists(Path.Combine(d.Root, "n")) ? File.ReadAllText(Path.Combine(d.Root, "n")).Trim() : "";

    /// <summary>The service's own lines in the unit's log, in file order ("sh stdout: TEXT" → TEXT).</summary>
    private static List<string> ServiceLines(Daemon d, string unit, string stream)
    {
        var path = Path.Combine(d.State, "logs", unit + ".log");
        if (!File.Exists(path)) return [];
        string marker = $" sh {stream}: ";
        return [.. File.ReadAllLines(path).Where(l => l.Contains(marker, StringComparison.Ordinal)).Select(l => l[(l.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..])];
    }

    [Fact]
    public async Task Every_line_of_consecutive_quick_runs_reaches_the_log_in_order_and_an_unfinished_last_line_stays_its_own()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        // Ten runs that crash at once, each with two lines on stdout, one on stderr and a last
        // stdout line without a newline; the eleventh stays up.
        CrashLoop(d, "looper", "if [ $$i -gt 10 ]; then echo settled; exec sleep infinity; fi; echo run $$i a; echo run $$i err >&2; echo run $$i b; printf 'run %%s tail' $$i; exit 1");
        d.Start();
        d.WaitFor(() => ServiceLines(d, "looper", "stdout").Contains("settled"), "the eleventh run to say it settled");
        var expected = Enumerable.Range(1, 10).SelectMany(i => new[] { $"run {i} a", $"run {i} b", $"run {i} tail" }).Append("settled").ToList();
        Assert.Equal(expected, ServiceLines(d, "looper", "stdout"));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"run {i} err"), ServiceLines(d, "looper", "stderr"));
        Assert.Equal("11", Counter(d));
        Assert.Equal("10", d.Prop("looper", "NRestarts"));
    }

    [Fact]
    public async Task Fifty_quick_restarts_leave_the_daemon_with_no_more_descriptors_than_before()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var crash = Path.Combine(d.Root, "crash");
        // Up and quiet until the test creates "crash"; then the next 50 runs exit at once, and the 52nd stays up.
        CrashLoop(d, "flapper", $"echo run $$i; if [ -e {crash} ] && [ $$i -le 51 ]; then exit 1; fi; exec sleep infinity");
        d.Start();
        d.WaitForState("flapper", "active", "running");
        d.WaitFor(() => Counter(d) == "1", "the first run");
        int first = d.MainPid("flapper");
        int before = Descriptors(d.Pid);

        File.WriteAllText(crash, "");
        System.Diagnostics.Process.Start("kill", ["-KILL", first.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        d.WaitFor(() => Counter(d) == "52", "50 crashes and a 52nd run that stays up");
        d.WaitForState("flapper", "active", "running");
        Assert.Equal("51", d.Prop("flapper", "NRestarts"));
        // Descriptors of a run close a little after it (pidfds, a pump's socket): wait for the count to come back.
        int after = 0;
        try
        {
            d.WaitFor(() => (after = Descriptors(d.Pid)) <= before, $"the daemon's descriptors to come back to {before}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Assert.Fail($"{before} descriptors before the restarts, {after} after: {string.Join(", ", Targets(d.Pid))}\n{e.Message}");
        }
        Assert.Equal(Enumerable.Range(1, 52).Select(i => $"run {i}"), ServiceLines(d, "flapper", "stdout"));
    }

    /// <summary>
    /// The daemon's sockets, pipes and anonymous inodes (pidfds, eventfds, epoll): what a run
    /// opens. Files are left out: the runtime maps each assembly it loads late as a file of its own.
    /// </summary>
    private static int Descriptors(int pid) =>
        Directory.GetFileSystemEntries($"/proc/{pid}/fd").Count(f => new FileInfo(f).LinkTarget is { } t && !t.StartsWith('/'));

    /// <summary>The daemon's descriptors by kind (socket, pipe, anon_inode:[pidfd] …), for a failure's message.</summary>
    private static IEnumerable<string> Targets(int pid) =>
        Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(f => new FileInfo(f).LinkTarget ?? "?")
            .Select(t => t.StartsWith('/') ? "file" : t.Split('[')[0]).GroupBy(t => t).Select(g => $"{g.Key}×{g.Count()}");
}
