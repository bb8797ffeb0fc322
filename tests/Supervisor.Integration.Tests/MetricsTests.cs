using System.Diagnostics;
using System.Net.Http;

namespace Supervisor.Integration.Tests;

/// <summary>/metrics as Prometheus scrapes it: values from the cgroups, linted by the real promtool.</summary>
public class MetricsTests
{
    private static string Scrape(Daemon d)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return http.GetStringAsync($"http://127.0.0.1:{d.MetricsPort}/metrics").Result;
    }

    private static double Value(string text, string series)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no series {series} in:\n{text}");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Units_are_exported_with_their_state_usage_and_limits_and_promtool_finds_nothing_to_fix()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("web", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Resources]\nMemoryMax = \"128M\"\nCPUQuota = \"50%\"\nTasksMax = 32\n[Sandbox]\nNamespaces = [\"pid\"]\nNoNewPrivileges = true\n");
        d.WriteUnit("flaky", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"exit 3\"]\nRestart = \"on-failure\"\nRestartSec = \"100ms\"\nStartLimitBurst = 1000\n");
        d.Start();
        d.WaitForState("web", "active", "running");
        d.WaitFor(() => int.Parse(d.Prop("flaky", "NRestarts")) >= 2, "flaky to restart twice");

        var text = Scrape(d);
        Assert.Equal(1, Value(text, "supervisor_unit_state{unit=\"web\",state=\"active\"}"));
        Assert.Equal(0, Value(text, "supervisor_unit_state{unit=\"web\",state=\"failed\"}"));
        Assert.Equal(128.0 * 1024 * 1024, Value(text, "supervisor_unit_memory_limit_bytes{unit=\"web\"}"));
        Assert.Equal(0.5, Value(text, "supervisor_unit_cpu_quota_cores{unit=\"web\"}"));
        Assert.Equal(32, Value(text, "supervisor_unit_tasks_limit{unit=\"web\"}"));
        Assert.True(Value(text, "supervisor_unit_memory_usage_bytes{unit=\"web\"}") > 0);
        Assert.True(Value(text, "supervisor_unit_tasks{unit=\"web\"}") >= 1);
        Assert.True(Value(text, "supervisor_unit_restarts_total{unit=\"flaky\"}") >= 2);
        Assert.Contains("supervisor_unit_sandbox_info{unit=\"web\",namespaces=\"pid\",seccomp=\"0\",apparmor=\"\",selinux=\"\",no_new_privs=\"1\"} 1", text);
        Assert.Contains("supervisor_build_info{version=", text);
        // Infinity is not a huge number: flaky declares no MemoryMax, so it has no limit series.
        Assert.DoesNotContain("supervisor_unit_memory_limit_bytes{unit=\"flaky\"}", text);

        if (!File.Exists("/usr/bin/promtool")) Assert.Skip("promtool is not installed (Debian package prometheus)");
        var lint = Process.Start(new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await lint.StandardInput.WriteAsync(text);
        lint.StandardInput.Close();
        var complaints = await lint.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await lint.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await lint.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(lint.ExitCode == 0, $"promtool check metrics: exit {lint.ExitCode}\n{complaints}");
    }

    [Fact]
    public async Task A_removed_unit_disappears_and_cpu_counters_do_not_reset_when_a_unit_restarts_or_its_cgroup_is_recreated()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("burn", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 1000\"]\n");
        d.WriteUnit("gone", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("burn", "active", "running");
        d.WaitFor(() => Value(Scrape(d), "supervisor_unit_cpu_usage_seconds_total{unit=\"burn\"}") > 0.05, "burn to use some CPU");
        var before = Value(Scrape(d), "supervisor_unit_cpu_usage_seconds_total{unit=\"burn\"}");

        // A restart keeps the cgroup, so its counters carry on by themselves.
        Assert.Equal(0, d.Cli("restart", "burn").Code);
        d.WaitForState("burn", "active", "running");
        var afterRestart = Value(Scrape(d), "supervisor_unit_cpu_usage_seconds_total{unit=\"burn\"}");
        Assert.True(afterRestart >= before, $"counter went back from {before} to {afterRestart} across a restart");

        // A stop removes the cgroup and a start makes a new one, whose counters start from 0 again.
        // The exported counter must carry on from where it was: old total + what the new cgroup has counted.
        Assert.Equal(0, d.Cli("stop", "burn").Code);
        Assert.False(Directory.Exists(d.CgroupDir("burn")), "a stopped unit's cgroup is removed");
        before = Value(Scrape(d), "supervisor_unit_cpu_usage_seconds_total{unit=\"burn\"}");
        Assert.Equal(0, d.Cli("start", "burn").Code);
        double NewRunSeconds()
        {
            var dir = d.CgroupDir("burn");
            return File.Exists("/sys/fs/cgroup/cgroup.controllers")
                ? double.Parse(File.ReadLines(Path.Combine(dir, "cpu.stat")).First(l => l.StartsWith("usage_usec ", StringComparison.Ordinal))[11..]) / 1e6
                : double.Parse(File.ReadAllText(Path.Combine(dir.Replace("/memory/", "/cpuacct/"), "cpuacct.usage"))) / 1e9;
        }
        d.WaitFor(() => NewRunSeconds() > 0.05, "the restarted burn to use some CPU");
        var newRun = NewRunSeconds();
        var after = Value(Scrape(d), "supervisor_unit_cpu_usage_seconds_total{unit=\"burn\"}");
        Assert.True(after >= before + newRun - 1e-6, $"counter {after} is not old total {before} + new run {newRun}: it was reset by the restart");

        File.Delete(Path.Combine(d.Units, "gone.toml"));
        d.WaitFor(() => !Scrape(d).Contains("unit=\"gone\""), "the removed unit's series to disappear");
        Assert.Contains("unit=\"burn\"", Scrape(d));
    }

    [Fact]
    public async Task A_port_in_use_is_a_clear_error_naming_the_port_and_the_option()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, d.MetricsPort);
        busy.Start();
        try
        {
            d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
            var (code, log) = d.RunToExit();
            Assert.Equal(1, code);
            Assert.Contains($"cannot serve metrics on 127.0.0.1:{d.MetricsPort}", log);
            Assert.Contains("--metrics-listen", log);
            Assert.DoesNotContain("   at ", log);
        }
        finally
        {
            busy.Stop();
        }
    }
}

public class SandboxDriftTests
{
    [Fact]
    public async Task A_process_moved_out_of_its_cgroup_is_sandbox_drift_in_metrics_and_log()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Sandbox]\nNoNewPrivileges = true\n");
        d.Start("--no-watch");
        d.WaitForState("svc", "active", "running");
        using var http = new System.Net.Http.HttpClient();
        string Metric() => http.GetStringAsync($"http://127.0.0.1:{d.MetricsPort}/metrics").Result;

        Assert.Equal(0, d.Cli("daemon-reload").Code);
        Assert.Contains("supervisor_unit_sandbox_drift{unit=\"svc\"} 0", Metric());

        // Someone moves the service out of its cgroup (into our subtree's root): what runs no longer matches.
        int pid = d.MainPid("svc");
        var unitDir = d.CgroupDir("svc");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(unitDir)!, "cgroup.procs"), pid.ToString());
        Assert.Equal(0, d.Cli("daemon-reload").Code);
        Assert.Contains("supervisor_unit_sandbox_drift{unit=\"svc\"} 1", Metric());
        d.WaitFor(() => d.Cli("logs", "svc", "--state-dir", d.State).Out.Contains("sandbox drift: cgroup"), "the log of svc to say sandbox drift: cgroup");
    }
}
