using Supervisor.Runtime.Process;

namespace Supervisor.Integration.Tests;

/// <summary>
/// [Health] probes against a real daemon and real services: a hung service (SIGSTOP) is restarted
/// by its liveness probe, a readiness probe holds back a dependent's start, and an http probe
/// reaches a service on the loopback of its own network namespace.
/// </summary>
public class HealthProbeDaemonTests
{
    private const int SigStop = 19, SigCont = 18;

    private static async Task<string> Metrics(Daemon d)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{d.MetricsPort}/metrics");
    }

    [Fact]
    public async Task A_hung_service_is_restarted_by_its_http_liveness_probe_with_result_health()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Daemon.FreePort();
        // The startup probe holds liveness off until python listens (that can take seconds on a busy
        // machine; without it liveness would restart the slow start). SIGSTOP leaves the listening
        // socket accepting connections into its backlog, but nothing answers the GET: the probe's
        // timeout is what sees the hang.
        d.WriteUnit("web", $$"""
            [Service]
            ExecStart = ["/usr/bin/python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
            Restart = "on-failure"
            RestartSec = "200ms"
            [Health]
            StartupProbe = { Tcp = "127.0.0.1:{{port}}", PeriodSec = 0.2, TimeoutSec = 0.2, FailureThreshold = 300 }
            LivenessProbe = { Http = "http://127.0.0.1:{{port}}/", PeriodSec = 1, TimeoutSec = 1, FailureThreshold = 2 }
            """);
        d.Start();
        d.WaitForState("web", "active", "running");
        d.WaitFor(() => d.Prop("web", "LivenessProbe").StartsWith("ok (1/1)", StringComparison.Ordinal), "the liveness probe to pass");
        int pid = d.MainPid("web");
        Assert.Equal("0", d.Prop("web", "NRestarts"));
        try
        {
            ProcessControl.Signal(pid, SigStop);
            d.WaitFor(() => d.Prop("web", "NRestarts") == "1" && d.Prop("web", "SubState") == "running" && d.MainPid("web") != pid,
                "the liveness probe to restart web");
        }
        finally
        {
            // The daemon's SIGCONT should have woken it for SIGTERM; if the test failed first, do not leave it stopped.
            ProcessControl.Signal(pid, SigCont);
        }
        var logs = d.Cli("logs", "web", "--state-dir", d.State).Out;
        Assert.Contains("liveness probe failed (2/2)", logs);
        Assert.Contains("failed with result 'health': liveness probe failed 2 times in a row", logs);
        Assert.Contains("result 'health'", logs);
        Assert.False(Directory.Exists($"/proc/{pid}"), $"the hung process {pid} is gone");
        // The new run is probed too.
        d.WaitFor(() => d.Prop("web", "LivenessProbe").StartsWith("ok", StringComparison.Ordinal), "the new run's liveness probe to pass");
        var metrics = await Metrics(d);
        Assert.Contains("supervisor_unit_probe_success{unit=\"web\",probe=\"liveness\"} 1", metrics);
        Assert.Contains("supervisor_unit_probe_duration_seconds_count{unit=\"web\",probe=\"liveness\"}", metrics);

        if (!File.Exists("/usr/bin/promtool")) Assert.Skip("promtool is not installed (Debian package prometheus)");
        var lint = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("promtool", ["check", "metrics"])
            { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await lint.StandardInput.WriteAsync(metrics);
        lint.StandardInput.Close();
        var complaints = await lint.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await lint.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await lint.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(lint.ExitCode == 0, $"promtool check metrics: exit {lint.ExitCode}\n{complaints}");
    }

    [Fact]
    public async Task A_readiness_probe_holds_back_the_start_of_a_unit_ordered_after_it()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var flag = Path.Combine(d.Root, "ready-flag");
        var started = Path.Combine(d.Root, "b-started");
        d.WriteUnit("a", $$"""
            [Service]
            ExecStart = ["/bin/sleep", "infinity"]
            TimeoutStartSec = "5min"
            [Health]
            ReadinessProbe = { Exec = ["/usr/bin/test", "-e", "{{flag}}"], PeriodSec = 0.5, TimeoutSec = 0.5 }
            """);
        d.WriteUnit("b", $$"""
            [Unit]
            Requires = ["a"]
            After = ["a"]
            [Service]
            ExecStart = ["/bin/sh", "-c", "touch {{started}}; exec sleep infinity"]
            """);
        d.Start();
        // The probe runs (and fails) while a stays activating; b waits for a's start job.
        d.WaitFor(() => d.Cli("logs", "a", "--state-dir", d.State).Out.Contains("readiness probe failed (3/3)"), "a's readiness probe to fail three times");
        Assert.Equal("activating", d.Prop("a", "ActiveState"));
        Assert.Equal("not-ready", d.Prop("a", "Readiness"));
        Assert.Contains("Readiness: failed (3/3)", d.Cli("status", "a", "--state-dir", d.State).Out);
        Assert.False(File.Exists(started), "b started before a was ready");
        Assert.NotEqual("active", d.Prop("b", "ActiveState"));

        File.WriteAllText(flag, "");
        d.WaitForState("a", "active", "running");
        d.WaitForState("b", "active", "running");
        Assert.True(File.Exists(started));
        Assert.Equal("ready", d.Prop("a", "Readiness"));
        Assert.Contains("Readiness: ok (1/1)", d.Cli("status", "a", "--state-dir", d.State).Out);

        // Losing readiness is shown and nothing else happens.
        File.Delete(flag);
        d.WaitFor(() => d.Prop("a", "Readiness") == "not-ready", "a to lose readiness");
        Assert.Equal("active", d.Prop("a", "ActiveState"));
        Assert.Equal("0", d.Prop("a", "NRestarts"));
        d.WaitFor(() => Metrics(d).Result.Contains("supervisor_unit_probe_success{unit=\"a\",probe=\"readiness\"} 0"), "the metric to say a is not ready");
    }

    [Fact]
    public async Task Http_and_exec_probes_reach_the_service_on_the_loopback_of_its_own_network_namespace()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Daemon.FreePort();
        // The server listens only on the unit's private loopback: the host's 127.0.0.1:port has
        // nothing, so the unit can become ready only if the probe connects from inside.
        d.WriteUnit("inside", $$"""
            [Service]
            ExecStart = ["/usr/bin/python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
            [Sandbox]
            Namespaces = ["net"]
            [Health]
            ReadinessProbe = { Http = "http://127.0.0.1:{{port}}/", PeriodSec = 0.5, TimeoutSec = 0.5 }
            LivenessProbe = { Exec = ["/usr/bin/python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{{port}}/', timeout=2)"], PeriodSec = 5, TimeoutSec = 5, FailureThreshold = 1 }
            """);
        d.Start();
        d.WaitForState("inside", "active", "running");
        Assert.Equal("ready", d.Prop("inside", "Readiness"));
        // The exec probe runs in the service's network namespace, not a new empty one: one failure would restart it.
        d.WaitFor(() => d.Prop("inside", "LivenessProbe") == "ok (1/1)", "the exec liveness probe to pass inside the unit's network namespace");
        Assert.Equal("0", d.Prop("inside", "NRestarts"));
        int pid = d.MainPid("inside");
        Assert.NotEqual(File.ResolveLinkTarget("/proc/self/ns/net", false)!.ToString(), File.ResolveLinkTarget($"/proc/{pid}/ns/net", false)!.ToString());
        using var host = new System.Net.Sockets.TcpClient();
        Assert.ThrowsAny<System.Net.Sockets.SocketException>(() => host.Connect("127.0.0.1", port));
    }
}
