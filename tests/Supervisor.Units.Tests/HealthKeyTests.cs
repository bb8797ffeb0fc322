using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Units.Tests;

/// <summary>[Health]: probes read with Kubernetes' defaults, and bad probes refused where they are written.</summary>
public class HealthKeyTests
{
    private static (UnitDefinition? Unit, List<Diagnostic> Diagnostics) Health(string keys, string service = Parse.MinimalService) =>
        Parse.Service(service + "[Health]\n" + keys + "\n");

    [Fact]
    public void A_probe_gets_Kubernetes_defaults_and_its_fields_are_read()
    {
        var (u, d) = Health("LivenessProbe = { Http = \"http://127.0.0.1:8080/healthz?full=1\" }\n" +
            "ReadinessProbe = { Tcp = \"[::1]:9000\", PeriodSec = 0.2, TimeoutSec = \"100ms\", InitialDelaySec = 2, SuccessThreshold = 2, FailureThreshold = 1 }\n" +
            "StartupProbe = { Exec = [\"/usr/bin/test\", \"-e\", \"/run/warm\"] }");
        Assert.Empty(d);
        var live = u!.Health.LivenessProbe!;
        Assert.Equal((ProbeCheck.Http, "127.0.0.1", 8080, "/healthz?full=1"), (live.Check, live.Host, live.Port, live.Path));
        Assert.Equal((Duration.FromSeconds(10), Duration.FromSeconds(1), Duration.Zero, 3, 1),
            (live.Period, live.Timeout, live.InitialDelay, live.FailureThreshold, live.SuccessThreshold));
        var ready = u.Health.ReadinessProbe!;
        Assert.Equal((ProbeCheck.Tcp, "::1", 9000), (ready.Check, ready.Host, ready.Port));
        Assert.Equal((Duration.FromMilliseconds(200), Duration.FromMilliseconds(100), Duration.FromSeconds(2), 1, 2),
            (ready.Period, ready.Timeout, ready.InitialDelay, ready.FailureThreshold, ready.SuccessThreshold));
        Assert.Equal(["/usr/bin/test", "-e", "/run/warm"], u.Health.StartupProbe!.Command!.Argv);
    }

    [Theory]
    [InlineData("LivenessProbe = { Http = \"http://10.0.0.5:8080/healthz\" }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: Http: \"http://10.0.0.5:8080/healthz\" is not a loopback address; a probe reaches only 127.0.0.0/8, ::1 or localhost, inside the unit's network namespace")]
    [InlineData("LivenessProbe = { Http = \"https://127.0.0.1:8443/\" }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: Http: \"https://127.0.0.1:8443/\" is https; only http is probed (a loopback check needs no TLS)")]
    [InlineData("ReadinessProbe = { Tcp = \"example.org:80\" }",
        "svc.toml:4:18: svc: [Health] ReadinessProbe: Tcp: \"example.org:80\" is not a loopback address; a probe reaches only 127.0.0.0/8, ::1 or localhost, inside the unit's network namespace")]
    [InlineData("LivenessProbe = { Tcp = \"127.0.0.1:8080\", PeriodSec = 1, TimeoutSec = 2 }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: TimeoutSec (2s) is longer than PeriodSec (1s); a run would still be going when the next one is due")]
    [InlineData("LivenessProbe = { Tcp = \"127.0.0.1:8080\", SuccessThreshold = 2 }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: SuccessThreshold must be 1 for a liveness probe (as in Kubernetes), got 2")]
    [InlineData("StartupProbe = { Tcp = \"127.0.0.1:8080\", SuccessThreshold = 3 }",
        "svc.toml:4:16: svc: [Health] StartupProbe: SuccessThreshold must be 1 for a startup probe (as in Kubernetes), got 3")]
    [InlineData("LivenessProbe = { Exec = [\"+/usr/bin/check\"] }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: Exec: the prefixes \"+\" and \"!\" are refused: a probe never runs with more privilege than the unit")]
    [InlineData("LivenessProbe = { Exec = [\"/bin/true\"], Tcp = \"127.0.0.1:1\" }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: the probe has Exec and Tcp; give only one")]
    [InlineData("LivenessProbe = { PeriodSec = 5 }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: the probe needs one of Exec, Http or Tcp")]
    [InlineData("LivenessProbe = { Tcp = \"127.0.0.1:1\", PeriodSec = 0.05, TimeoutSec = 0.01 }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: PeriodSec 50ms is shorter than the minimum, 100ms")]
    [InlineData("LivenessProbe = { Tcp = \"127.0.0.1:1\", FailureThreshold = 0 }",
        "svc.toml:4:17: svc: [Health] LivenessProbe: FailureThreshold: expected an integer from 1 to 1000, got 0")]
    public void A_bad_probe_is_refused_with_file_line_column_key_and_cause(string keys, string message)
    {
        var d = Assert.Single(Health(keys).Diagnostics);
        Assert.Equal(Severity.Error, d.Severity);
        Assert.StartsWith(message, d.ToString());
    }

    [Fact]
    public void A_misspelt_field_is_named_with_the_nearest_one()
    {
        var d = Assert.Single(Health("LivenessProbe = { Tcp = \"127.0.0.1:1\", PeriodSecs = 5 }").Diagnostics);
        Assert.Contains("unknown field 'PeriodSecs' in the probe", d.ToString());
        Assert.Contains("PeriodSec", d.Hint);
    }

    [Fact]
    public void A_oneshot_has_no_process_to_probe()
    {
        var d = Assert.Single(Health("LivenessProbe = { Exec = [\"/bin/true\"] }", "[Service]\nType = \"oneshot\"\nExecStart = [\"/bin/true\"]\n").Diagnostics);
        Assert.Contains("[Health] LivenessProbe: a Type = \"oneshot\" service has no running process to probe", d.ToString());
        Assert.Equal("svc.toml:5:17", d.Location.ToString());
    }

    [Fact]
    public void Health_is_not_a_section_of_a_slice()
    {
        var (_, d) = Parse.Service("[Health]\nLivenessProbe = { Tcp = \"127.0.0.1:1\" }\n", "web.slice", UnitKind.Slice);
        Assert.Contains("[Health] is not allowed in a slice", Assert.Single(d).ToString());
    }
}
