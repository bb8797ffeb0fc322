using System.Text.RegularExpressions;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Client commands against a real daemon started with its own units, state and runtime
/// directories and cgroup subtree, as a person uses them: without repeating those options, with
/// the requests in the unit's log, and with a deadline when the daemon does not answer.
/// </summary>
public class CliAgainstDaemonTests
{
    private const string Talker = """
        [Service]
        ExecStart = ["/bin/sh", "-c", "echo hello from web; exec /bin/sleep 1000"]
        [Sandbox]
        Namespaces = ["pid", "mount", "ipc", "uts"]
        NoNewPrivileges = true
        """;

    [Fact]
    public async Task Inspect_show_status_and_logs_find_the_daemons_unit_files_logs_and_cgroups_without_options()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("web", Talker);
        d.Start();
        d.WaitForState("web", "active", "running");

        // inspect: the declaration from the daemon's --units, the cgroup in its --cgroup-root.
        var inspect = d.Cli("inspect", "web");
        Assert.True(inspect.Code == 0, $"inspect: {inspect.Err}\n{inspect.Out}");
        Assert.DoesNotContain("DIFF", inspect.Out);
        Assert.Contains($"/{d.CgroupRoot}/web.service", inspect.Out);

        var show = d.Cli("show", "web", "--runtime-dir", d.Runtime);
        Assert.True(show.Code == 0, show.Err);
        Assert.Contains("NoNewPrivileges = true", show.Out);

        d.WaitFor(() => d.Cli("logs", "web", "--runtime-dir", d.Runtime).Out.Contains("hello from web"), "the unit's output in its log");
        var status = d.Cli("status", "web", "-n", "5");
        Assert.Equal(0, status.Code);
        Assert.Contains("hello from web", status.Out);
    }

    [Fact]
    public async Task The_native_client_runs_the_daemon_as_supervisord_in_the_same_process_and_it_stops_on_SIGTERM()
    {
        Daemon.RequireRoot();
        var client = Daemon.NativeBinary ?? "";
        if (client.Length == 0)
            Assert.Skip("needs SUPERVISOR_BINARY (the NativeAOT publish, as test.sh runs it): the JIT build runs the daemon inside `supervisor` itself");
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("svc", "active", "running");

        // `supervisor run` became supervisord, the binary beside it: same pid, nothing left in between.
        var daemonBinary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(client))!, "supervisord");
        Assert.Equal(daemonBinary, new FileInfo($"/proc/{d.Pid}/exe").LinkTarget);
        // The client carries none of the daemon's code (hosting, Kestrel and the runtime's daemon
        // parts: 6.6 MiB of the 16 MiB daemon when the metrics stopped using prometheus-net).
        Assert.True(new FileInfo(daemonBinary).Length - new FileInfo(client).Length > 4 << 20,
            $"the client ({new FileInfo(client).Length} bytes) is not much smaller than the daemon ({new FileInfo(daemonBinary).Length} bytes)");
        // Signals reach the exec'd daemon: SIGTERM stops the units and the daemon, exit 0.
        var main = d.MainPid("svc");
        var (code, exited) = d.Terminate();
        Assert.True(exited && code == 0, $"exit {code}:\n{d.Log}");
        Assert.False(Directory.Exists($"/proc/{main}"), "the unit's process outlived the daemon (the daemon stops and reaps its units before it exits)");
    }

    [Fact]
    public async Task A_stop_and_a_start_from_the_cli_are_in_the_units_log_with_who_asked()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("svc", "active", "running");

        Assert.Equal(0, d.Cli("stop", "svc").Code);
        Assert.Equal(0, d.Cli("start", "svc").Code);
        var log = d.Cli("logs", "svc", "--runtime-dir", d.Runtime).Out;
        var stop = Regex.Match(log, @"stop requested by uid 0 \(pid (\d+)\) over the control API");
        var start = Regex.Match(log, @"start requested by uid 0 \(pid (\d+)\) over the control API");
        Assert.True(stop.Success && start.Success, log);
        Assert.True(stop.Index < start.Index, log);
        Assert.NotEqual(stop.Groups[1].Value, start.Groups[1].Value); // two CLI processes
    }

    [Fact]
    public async Task A_start_slower_than_the_timeout_goes_on_and_the_cli_says_how_to_follow_it()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("slow", "[Service]\nExecStartPre = [[\"/bin/sleep\", \"600\"]]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("slow", "activating");
        Assert.Equal(0, d.Cli("stop", "slow").Code);

        var start = d.Cli("start", "slow", "--timeout", "1s");
        Assert.Equal(1, start.Code);
        Assert.Contains("gave up waiting after 1s: the start of 'slow' goes on (it is activating (start-pre) now); " +
            "follow it with 'supervisor status slow' or 'supervisor logs -f slow'", start.Err);
        Assert.Equal("activating", d.Prop("slow", "ActiveState"));
    }

    [Fact]
    public async Task A_stopped_daemon_is_given_up_on_at_the_timeout_and_named_as_stopped()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("svc", "active", "running");
        // The daemon writes its pid into its lock file, which .NET (flock) will not open while it is held.
        using var cat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("cat", [Path.Combine(d.State, "supervisor.lock")]) { RedirectStandardOutput = true })!;
        var pid = cat.StandardOutput.ReadToEnd().Trim();
        cat.WaitForExit();

        d.Signal("STOP");
        try
        {
            d.WaitFor(() => File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('T'), "the daemon to be stopped");
            var status = d.Cli("status", "svc", "--timeout", "2s");
            Assert.Equal(1, status.Code);
            Assert.Contains($"connected to '{Path.Combine(d.Runtime, "private")}', but the daemon (pid {pid}) is stopped (by SIGSTOP or a debugger) " +
                $"and did not answer the handshake within 2s; 'kill -CONT {pid}' resumes it", status.Err);
        }
        finally
        {
            d.Signal("CONT");
        }
        Assert.Equal(0, d.Cli("status", "svc").Code);
    }
}
