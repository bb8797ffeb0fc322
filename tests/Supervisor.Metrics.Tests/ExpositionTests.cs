using System.Diagnostics;
using System.Globalization;
using Supervisor.Cgroups;

namespace Supervisor.Metrics.Tests;

/// <summary>
/// The exposition as Prometheus reads it: series by series, with the escaping, counters, removals
/// and histograms a user's queries depend on, and the whole text checked by the real promtool.
/// </summary>
public sealed class ExpositionTests
{
    private readonly List<UnitSample> _units = [];
    private readonly SupervisorMetrics _metrics;

    public ExpositionTests() => _metrics = new SupervisorMetrics(() => _units, "1.2.3", "hybrid");

    private static UnitSample Unit(string name, ulong? cpuNs = null, string sub = "running", string apparmor = "") => new()
    {
        Unit = name,
        ActiveState = "active",
        SubState = sub,
        Restarts = 2,
        AppArmor = apparmor,
        MemoryLimitBytes = 64UL << 20,
        Stats = cpuNs is null ? null : new CgroupStats { CpuUsageNs = cpuNs, MemoryCurrentBytes = 4096, TasksCurrent = 1 },
    };

    private static double Value(string text, string series)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no series {series} in:\n{text}");
        return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Label_values_with_quotes_backslashes_and_newlines_are_escaped()
    {
        _units.Add(Unit("we\"ird\\na\nme", cpuNs: 1_000_000_000, apparmor: "prof\"ile"));

        var text = _metrics.ScrapeText();

        Assert.Equal(1, Value(text, "supervisor_unit_state{unit=\"we\\\"ird\\\\na\\nme\",state=\"active\"}"));
        Assert.Equal(1, Value(text, "supervisor_unit_cpu_usage_seconds_total{unit=\"we\\\"ird\\\\na\\nme\"}"));
        Assert.Contains("supervisor_unit_sandbox_info{unit=\"we\\\"ird\\\\na\\nme\",namespaces=\"\",seccomp=\"0\",apparmor=\"prof\\\"ile\",selinux=\"\",no_new_privs=\"0\"} 1\n", text);
        // No raw newline inside a series: every line is a comment or a whole sample.
        Assert.All(text.TrimEnd('\n').Split('\n'), l => Assert.Matches(@"^(# (HELP|TYPE) \S+ .*|[a-z_]+(\{.*\})? \S+)$", l));
    }

    [Fact]
    public void Values_are_written_as_integers_decimals_and_without_a_series_when_absent()
    {
        _units.Add(Unit("web", cpuNs: 1_500_000_001) with { StartTimeSeconds = 1796302224.99, CpuQuotaCores = 0.5 });
        _units.Add(Unit("idle"));

        var text = _metrics.ScrapeText();

        Assert.Contains("supervisor_unit_memory_limit_bytes{unit=\"web\"} 67108864\n", text);
        Assert.Contains("supervisor_unit_cpu_usage_seconds_total{unit=\"web\"} 1.500000001\n", text);
        Assert.Contains("supervisor_unit_start_time_seconds{unit=\"web\"} 1796302224.99\n", text);
        Assert.Contains("supervisor_unit_cpu_quota_cores{unit=\"web\"} 0.5\n", text);
        Assert.DoesNotContain("supervisor_unit_memory_usage_bytes{unit=\"idle\"}", text); // not running: no cgroup, no series
        Assert.Contains("# TYPE supervisor_unit_io_read_bytes_total counter\n", text); // metadata even without series
        Assert.Contains("supervisor_build_info{version=\"1.2.3\",cgroup_layout=\"hybrid\"} 1\n", text);
        Assert.Equal(2, Value(text, "supervisor_units{state=\"active\"}"));
    }

    [Fact]
    public void A_unit_removed_between_scrapes_loses_every_series()
    {
        _units.Add(Unit("web", cpuNs: 10));
        _units.Add(Unit("gone", cpuNs: 10));
        _metrics.RecordProbe("gone", "liveness", 0.01);
        _metrics.RecordDriftRepair("gone", "MemoryMax");
        Assert.Contains("unit=\"gone\"", _metrics.ScrapeText());

        _units.RemoveAll(u => u.Unit == "gone");
        var text = _metrics.ScrapeText();

        Assert.DoesNotContain("unit=\"gone\"", text);
        Assert.Contains("unit=\"web\"", text);
        Assert.Equal(1, Value(text, "supervisor_units{state=\"active\"}"));
    }

    [Fact]
    public void A_cgroup_recreated_between_scrapes_keeps_the_counter_rising()
    {
        _units.Add(Unit("web", cpuNs: 5_000_000_000));
        Assert.Equal(5, Value(_metrics.ScrapeText(), "supervisor_unit_cpu_usage_seconds_total{unit=\"web\"}"));

        // The unit stopped (no cgroup: the counter keeps its value) and started in a new cgroup, which counts from 0.
        _units[0] = Unit("web");
        Assert.Equal(5, Value(_metrics.ScrapeText(), "supervisor_unit_cpu_usage_seconds_total{unit=\"web\"}"));
        _units[0] = Unit("web", cpuNs: 1_000_000_000);
        Assert.Equal(6, Value(_metrics.ScrapeText(), "supervisor_unit_cpu_usage_seconds_total{unit=\"web\"}"));
        _units[0] = Unit("web", cpuNs: 2_000_000_000);
        Assert.Equal(7, Value(_metrics.ScrapeText(), "supervisor_unit_cpu_usage_seconds_total{unit=\"web\"}"));
    }

    [Fact]
    public void An_info_series_carries_only_the_current_label_set()
    {
        _units.Add(Unit("web", sub: "start"));
        _metrics.ScrapeText();
        _units[0] = Unit("web", sub: "running");

        var text = _metrics.ScrapeText();

        Assert.Contains("supervisor_unit_sub_state_info{unit=\"web\",sub_state=\"running\"} 1\n", text);
        Assert.DoesNotContain("sub_state=\"start\"", text);
    }

    [Fact]
    public void Histograms_have_cumulative_buckets_a_sum_and_a_count()
    {
        _units.Add(Unit("web"));
        _metrics.RecordReconcile(TimeSpan.FromMilliseconds(3), ["start", "start", "stop"]);
        _metrics.RecordReconcile(TimeSpan.FromSeconds(20), []);
        _metrics.RecordProbe("web", "readiness", 0.002);

        var text = _metrics.ScrapeText();

        Assert.Equal(0, Value(text, "supervisor_reconcile_duration_seconds_bucket{le=\"0.002\"}"));
        Assert.Equal(1, Value(text, "supervisor_reconcile_duration_seconds_bucket{le=\"0.004\"}"));
        Assert.Equal(1, Value(text, "supervisor_reconcile_duration_seconds_bucket{le=\"8.192\"}"));
        Assert.Equal(2, Value(text, "supervisor_reconcile_duration_seconds_bucket{le=\"+Inf\"}"));
        Assert.Equal(2, Value(text, "supervisor_reconcile_duration_seconds_count"));
        Assert.Equal(20.003, Value(text, "supervisor_reconcile_duration_seconds_sum"), 9);
        Assert.Equal(2, Value(text, "supervisor_reconcile_actions_total{action=\"start\"}"));
        // A bound is inclusive: 2 ms falls in le="0.002".
        Assert.Equal(1, Value(text, "supervisor_unit_probe_duration_seconds_bucket{unit=\"web\",probe=\"readiness\",le=\"0.002\"}"));
        Assert.Equal(0, Value(text, "supervisor_unit_probe_duration_seconds_bucket{unit=\"web\",probe=\"readiness\",le=\"0.001\"}"));
        Assert.Equal(1, Value(text, "supervisor_unit_probe_duration_seconds_count{unit=\"web\",probe=\"readiness\"}"));
    }

    [Fact]
    public void Failed_reads_and_a_failed_sample_are_counted_as_scrape_errors_and_the_last_values_served()
    {
        _units.Add(Unit("web", cpuNs: 1_000_000_000) with { Stats = new CgroupStats { CpuUsageNs = 1_000_000_000, ReadErrors = 2 } });
        Assert.Equal(2, Value(_metrics.ScrapeText(), "supervisor_scrape_errors_total"));

        var failing = new SupervisorMetrics(() => throw new IOException("manager gone"), "1", "v2");
        var text = failing.ScrapeText();
        Assert.Equal(1, Value(text, "supervisor_scrape_errors_total"));
        Assert.Contains("# TYPE supervisor_unit_state gauge\n", text);
    }

    [Fact]
    public async Task Promtool_finds_nothing_to_fix_in_a_whole_scrape()
    {
        _units.Add(Unit("web", cpuNs: 2_000_000_000) with { Probes = [("liveness", true)], SeccompDenials = [("ptrace", 3)], SandboxDrift = false, LastExitCode = 0 });
        _units.Add(Unit("we\"ird", cpuNs: 1) with { Namespaces = "net,pid", NoNewPrivileges = true });
        _metrics.RecordReconcile(TimeSpan.FromMilliseconds(40), ["start"]);
        _metrics.RecordProbe("web", "liveness", 0.02);
        _metrics.RecordDriftRepair("web", "MemoryMax");
        var text = _metrics.ScrapeText();

        if (!File.Exists("/usr/bin/promtool")) Assert.Skip("promtool is not installed (Debian package prometheus)");
        var lint = Process.Start(new ProcessStartInfo("/usr/bin/promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await lint.StandardInput.WriteAsync(text);
        lint.StandardInput.Close();
        var complaints = await lint.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await lint.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await lint.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(lint.ExitCode == 0 && complaints.Length == 0, $"promtool check metrics: exit {lint.ExitCode}\n{complaints}\n{text}");
    }
}
