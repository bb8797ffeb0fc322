using System.Text.RegularExpressions;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #16 item 2, with the real daemon and kernel: a call SystemCallFilter denies reaches the
/// supervisor through the filter's listener, is answered with the declared errno (or kills the
/// caller by SIGSYS), and shows up in the unit's log, `status`, D-Bus and the metric; a flood of
/// denials is counted in full but logged once; the listener never reaches the service.
/// </summary>
public class SeccompDenialDaemonTests
{
    /// <summary>Calls keyctl (in @keyring) N times through libc's syscall(), then prints the errnos it got, and sleeps.</summary>
    private const string Probe = """
        import ctypes, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        nr = {"x86_64": 250, "aarch64": 219}[__import__("platform").machine()]
        seen = {}
        for _ in range(int(sys.argv[1])):
            ctypes.set_errno(0)
            libc.syscall(nr, 0, 0, 0, 0, 0)
            e = ctypes.get_errno()
            seen[e] = seen.get(e, 0) + 1
        print("errnos", sorted(seen.items()), flush=True)
        time.sleep(1000)
        """;

    private static string Logs(Daemon d, string unit) => d.Cli("logs", unit, "--state-dir", d.State).Out;

    private static string Metrics(Daemon d)
    {
        using var http = new HttpClient();
        return http.GetStringAsync($"http://127.0.0.1:{d.MetricsPort}/metrics").Result;
    }

    private static long? Denials(Daemon d, string unit, string syscall)
    {
        var m = Regex.Match(Metrics(d), $"^supervisor_unit_seccomp_denials_total\\{{unit=\"{unit}\",syscall=\"{syscall}\"\\}} (\\d+)$", RegexOptions.Multiline);
        return m.Success ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static void WriteProbeUnit(Daemon d, string name, int calls, string extra)
    {
        var script = Path.Combine(d.Root, "probe.py");
        File.WriteAllText(script, Probe);
        File.SetUnixFileMode(d.Root, (UnixFileMode)0b111_101_101);
        d.WriteUnit(name, $"[Service]\nExecStart = [\"/usr/bin/python3\", \"{script}\", \"{calls}\"]\n[Sandbox]\nSystemCallFilter = [\"~@keyring\"]\n{extra}");
    }

    [Fact]
    public async Task A_denied_call_gets_the_declared_errno_and_shows_in_the_log_status_dbus_and_metric()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteProbeUnit(d, "deny", 1, "SystemCallErrorNumber = \"EACCES\"\n");
        d.Start();
        d.WaitForState("deny", "active", "running");

        d.WaitFor(() => Logs(d, "deny").Contains("errnos", StringComparison.Ordinal), "the probe's result");
        Assert.Contains("errnos [(13, 1)]", Logs(d, "deny"));
        int pid = d.MainPid("deny");
        d.WaitFor(() => Logs(d, "deny").Contains($"seccomp: denied system call keyctl (EACCES) to pid {pid} (python3)", StringComparison.Ordinal), "the denial in the unit's log");
        d.WaitFor(() => Denials(d, "deny", "keyctl") == 1, "the denial in the metric");
        var status = d.Cli("status", "deny", "--state-dir", d.State).Out;
        Assert.Contains("Denied: keyctl 1; last: keyctl (EACCES) to pid " + pid + " (python3)", status);
        Assert.Contains("keyctl", d.Status("deny").GetProperty("SeccompDenials").GetRawText());

        // The listener and the socket it came on stay with the supervisor: the service holds neither.
        var fds = Directory.GetFiles($"/proc/{pid}/fd").Select(f => new FileInfo(f).LinkTarget ?? "").ToList();
        Assert.DoesNotContain(fds, t => t.Contains("seccomp", StringComparison.Ordinal));
        Assert.Contains("Seccomp:\t2", File.ReadAllLines($"/proc/{pid}/status"));
    }

    [Fact]
    public async Task A_flood_of_denials_is_counted_in_full_and_logged_once()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        const int Calls = 20000;
        WriteProbeUnit(d, "flood", Calls, "SystemCallErrorNumber = \"EPERM\"\n");
        d.Start();
        d.WaitForState("flood", "active", "running");
        d.WaitFor(() => Logs(d, "flood").Contains("errnos", StringComparison.Ordinal), "the flood to end", seconds: 300);
        Assert.Contains($"errnos [(1, {Calls})]", Logs(d, "flood"));
        d.WaitFor(() => Denials(d, "flood", "keyctl") == Calls, "every denial in the metric");
        // One line a minute per (unit, call, errno): a slow run may cross one minute boundary.
        int lines = Logs(d, "flood").Split('\n').Count(l => l.Contains("seccomp: denied system call keyctl", StringComparison.Ordinal));
        Assert.InRange(lines, 1, 2);
    }

    [Fact]
    public async Task Without_an_errno_the_caller_is_killed_by_SIGSYS_as_the_kernel_would()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        WriteProbeUnit(d, "kill", 1, "");
        d.Start();
        d.WaitFor(() => Logs(d, "kill").Contains("seccomp: denied system call keyctl (kill)", StringComparison.Ordinal), "the kill in the log");
        d.WaitFor(() => d.Prop("kill", "ActiveState") == "failed", "the unit to fail");
        Assert.Equal("signal", d.Prop("kill", "Result"));
        Assert.DoesNotContain("errnos", Logs(d, "kill"));
        Assert.Matches("SIGSYS|signal 31|status=31", Logs(d, "kill") + d.Log);
    }
}
