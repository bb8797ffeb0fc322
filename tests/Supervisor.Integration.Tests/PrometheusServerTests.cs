using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text;
using System.Text.Json;

namespace Supervisor.Integration.Tests;

/// <summary>
/// contrib/prometheus and contrib/grafana checked by the real tools: promtool lints the rules and
/// runs their unit tests, and a real Prometheus server scrapes a real daemon, loads the rules and
/// answers PromQL (the dashboard's expressions included) over its HTTP API.
/// </summary>
public class PrometheusServerTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Supervisor.sln"))) return d.FullName;
        throw new InvalidOperationException("Supervisor.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Contrib(params string[] parts) => Path.Combine([RepoRoot(), "contrib", .. parts]);

    private static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);

    private static string RequireTool(string tool)
    {
        var path = Which(tool);
        if (path is null) Assert.Skip($"{tool} is not installed (Debian package {(tool == "python3" ? "python3" : "prometheus")})");
        return path;
    }

    private static async Task<(int Code, string Output)> Run(string program, string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        using var p = Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2)); // a safety net only
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(); throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task The_contrib_rules_pass_promtool_check_and_their_unit_tests_and_the_config_loads_them()
    {
        var promtool = RequireTool("promtool");
        var dir = Contrib("prometheus");

        var check = await Run(promtool, dir, "check", "rules", "supervisor-rules.yml");
        Assert.True(check.Code == 0, $"promtool check rules: exit {check.Code}\n{check.Output}");

        // Each alert fires on a synthetic series that should trigger it and not on its neighbours.
        var test = await Run(promtool, dir, "test", "rules", "supervisor-rules.test.yml");
        Assert.True(test.Code == 0, $"promtool test rules: exit {test.Code}\n{test.Output}");
        Assert.Contains("SUCCESS", test.Output);
        TestContext.Current.TestOutputHelper?.WriteLine(check.Output + test.Output);

        // The shipped scrape config is valid and finds the rules file next to it.
        var config = await Run(promtool, dir, "check", "config", "prometheus.yml");
        Assert.True(config.Code == 0, $"promtool check config: exit {config.Code}\n{config.Output}");
        Assert.Contains("1 rule files found", config.Output);
    }

    [Fact]
    public async Task Every_expression_in_the_Grafana_dashboard_parses()
    {
        RequireTool("promtool");
        RequireTool("python3");
        var (code, output) = await Run("/bin/sh", Contrib("grafana"), Contrib("grafana", "check-dashboard.sh"));
        Assert.True(code == 0, $"check-dashboard.sh: exit {code}\n{output}");
        Assert.Contains("every expression parses", output);
    }

    [Fact]
    public async Task A_real_Prometheus_scrapes_the_daemon_loads_the_rules_and_answers_PromQL_with_memory_and_restarts()
    {
        Daemon.RequireRoot();
        var prometheus = RequireTool("prometheus");
        var ct = TestContext.Current.CancellationToken;

        await using var d = new Daemon();
        d.WriteUnit("example", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Resources]\nMemoryMax = \"64M\"\nCPUQuota = \"50%\"\n");
        d.WriteUnit("flaky", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"exit 3\"]\nRestart = \"on-failure\"\nRestartSec = \"200ms\"\nStartLimitBurst = 1000\n");
        d.Start();

        var work = Path.Combine(Path.GetTempPath(), "supervisor-prometheus-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(work, "data");
        Directory.CreateDirectory(data);
        int port = Daemon.FreePort();
        var api = $"http://127.0.0.1:{port}";
        var config = Path.Combine(work, "prometheus.yml");
        // The shipped rules, loaded by a real server: they must evaluate without errors on real series.
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
              evaluation_interval: 1s
            rule_files:
              - {Contrib("prometheus", "supervisor-rules.yml")}
            scrape_configs:
              - job_name: supervisor
                static_configs:
                  - targets: ["127.0.0.1:{d.MetricsPort}"]
            """, ct);

        var log = new StringBuilder();
        var psi = new ProcessStartInfo(prometheus, [$"--config.file={config}", $"--storage.tsdb.path={data}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work };
        Process? server = null;
        try
        {
            server = Process.Start(psi)!;
            server.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            server.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string Context() { lock (log) return $"\n--- prometheus ---\n{log}\n--- daemon ---\n{d.Log}"; }

            async Task<JsonElement?> Api(string path)
            {
                try
                {
                    using var response = await http.GetAsync(api + path, ct);
                    if (!response.IsSuccessStatusCode) return null;
                    using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                    return doc.RootElement.GetProperty("data").Clone();
                }
                catch (HttpRequestException) { return null; } // not listening yet
                catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return null; }
            }

            async Task<JsonElement[]> Query(string promql) =>
                await Api("/api/v1/query?query=" + Uri.EscapeDataString(promql)) is { } r ? [.. r.GetProperty("result").EnumerateArray()] : [];

            var clock = Stopwatch.StartNew();
            // Safety nets only: each wait ends as soon as its condition holds.
            async Task WaitFor(Func<Task<bool>> probe, string what, int seconds = 120)
            {
                var deadline = DateTime.UtcNow.AddSeconds(seconds);
                while (DateTime.UtcNow < deadline)
                {
                    if (server.HasExited) Assert.Fail($"prometheus exited ({server.ExitCode}) while waiting for {what}{Context()}");
                    if (await probe()) { TestContext.Current.TestOutputHelper?.WriteLine($"{clock.Elapsed:mm\\:ss\\.f} {what}"); return; }
                    await Task.Delay(250, ct);
                }
                Assert.Fail($"gave up waiting for {what}{Context()}");
            }

            async Task<JsonElement> WaitForSeries(string promql, string what)
            {
                JsonElement found = default;
                await WaitFor(async () => { if (await Query(promql) is [var s, ..]) { found = s; return true; } return false; }, what);
                return found;
            }

            var up = await WaitForSeries("up{job=\"supervisor\"} == 1", "Prometheus to scrape the supervisor");
            Assert.Equal($"127.0.0.1:{d.MetricsPort}", up.GetProperty("metric").GetProperty("instance").GetString());

            var memory = await WaitForSeries("supervisor_unit_memory_usage_bytes{unit=\"example\"} > 0", "a PromQL query to return the example unit's memory");
            Assert.True(SampleValue(memory) > 0);
            Assert.Equal("supervisor", memory.GetProperty("metric").GetProperty("job").GetString());

            var restarts = await WaitForSeries("supervisor_unit_restarts_total{unit=\"flaky\"} >= 1", "a PromQL query to return the flaky unit's restarts");
            Assert.True(SampleValue(restarts) >= 1);

            // The declared limit came through too, as a number a ratio can use.
            var ratio = await WaitForSeries("supervisor_unit_memory_usage_bytes{unit=\"example\"} / supervisor_unit_memory_limit_bytes{unit=\"example\"}", "the example unit's memory / limit ratio");
            Assert.InRange(SampleValue(ratio), double.Epsilon, 1);

            // The dashboard's expressions evaluate on this server, against real series. rate() and
            // increase() need two samples in their window: wait for them first.
            await WaitForSeries("increase(supervisor_unit_restarts_total{unit=\"flaky\"}[1m]) > 0 and on () rate(supervisor_unit_cpu_usage_seconds_total{unit=\"example\"}[1m])",
                "rate() and increase() over the units' counters to have two samples");

            // Every shipped rule has been evaluated on these real series (after they had two samples)
            // and none failed at run time (a rule can parse and still fail, e.g. two series with the
            // same labels once the alert drops __name__).
            var since = DateTimeOffset.UtcNow;
            JsonElement[] rules = [];
            await WaitFor(async () =>
            {
                if (await Api("/api/v1/rules") is not { } r) return false;
                rules = [.. r.GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray())];
                return rules.Length > 0 && rules.All(x => x.GetProperty("health").GetString() != "unknown"
                    && DateTimeOffset.Parse(x.GetProperty("lastEvaluation").GetString()!, CultureInfo.InvariantCulture) > since);
            }, "the rules to be evaluated on the scraped series");
            var declared = File.ReadLines(Contrib("prometheus", "supervisor-rules.yml")).Count(l => l.TrimStart().StartsWith("- alert:", StringComparison.Ordinal));
            Assert.Equal(declared, rules.Length);
            var broken = rules.Where(x => x.GetProperty("health").GetString() != "ok")
                .Select(x => $"{x.GetProperty("name").GetString()}: {(x.TryGetProperty("lastError", out var e) ? e.GetString() : "")}").ToArray();
            Assert.True(broken.Length == 0, "rules failing on real series:\n" + string.Join('\n', broken) + Context());

            if (Which("python3") is not null && Which("promtool") is not null)
            {
                var (code, output) = await Run("/bin/sh", Contrib("grafana"), Contrib("grafana", "check-dashboard.sh"), "--url", api);
                TestContext.Current.TestOutputHelper?.WriteLine(output);
                Assert.True(code == 0, $"check-dashboard.sh --url {api}: exit {code}\n{output}");
                // Every panel draws something for these two units, except drift repairs (none was
                // made, and that counter only appears at the first repair).
                var seriesByPanel = System.Text.RegularExpressions.Regex.Matches(output, @"^ok\s+(\d+) series\s+(?:panel \d+ ""(.*)"" target \w+|(variable \$\w+))$", System.Text.RegularExpressions.RegexOptions.Multiline)
                    .GroupBy(m => m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value, m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                    .ToDictionary(g => g.Key, g => g.Max());
                Assert.Contains("CPU usage and quota", seriesByPanel.Keys);
                var empty = seriesByPanel.Where(p => p.Value == 0 && p.Key != "Drift repairs").Select(p => p.Key).ToArray();
                Assert.True(empty.Length == 0, "dashboard panels with no data on a live daemon: " + string.Join(", ", empty) + "\n" + output);
            }
        }
        finally
        {
            if (server is not null)
            {
                // Stopped by the PID we started, politely first (it flushes its head block), then for good.
                if (!server.HasExited)
                {
                    using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])!) kill.WaitForExit();
                    if (!server.WaitForExit(TimeSpan.FromSeconds(30))) { server.Kill(); server.WaitForExit(TimeSpan.FromSeconds(30)); }
                }
                server.Dispose();
            }
            try { Directory.Delete(work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        Assert.False(Directory.Exists(work), $"the Prometheus data dir {work} was not removed");
    }

    private static double SampleValue(JsonElement sample) =>
        double.Parse(sample.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
}
