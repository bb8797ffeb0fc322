using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>The Landlock keys: what they turn on, and every mistake one located error.</summary>
public class LandlockKeyTests
{
    private static SandboxSection Sandbox(string lines) => Parse.Valid(Parse.MinimalService + "[Sandbox]\n" + lines + "\n").Sandbox;

    private static string Error(string lines) => Parse.SingleError(Parse.MinimalService + "[Sandbox]\n" + lines + "\n").ToString();

    [Fact]
    public void Without_the_keys_there_is_no_ruleset()
    {
        var x = Sandbox("");
        Assert.False(x.HasLandlock);
        Assert.Null(x.LandlockBindPorts);
        Assert.Equal(LandlockCompatibility.Required, x.LandlockCompatibility);
    }

    [Fact]
    public void Paths_take_the_dash_prefix_for_may_be_missing()
    {
        var x = Sandbox("LandlockReadOnlyPaths = [\"/usr\", \"-/etc/missing.conf\"]\nLandlockExecutePaths = [\"/usr/bin/\"]");
        Assert.True(x.HasLandlockFilesystem);
        Assert.False(x.HasLandlockNetwork);
        Assert.Equal([new OptionalPath("/usr", false), new OptionalPath("/etc/missing.conf", true)], x.LandlockReadOnlyPaths);
        Assert.Equal("/usr/bin", x.LandlockExecutePaths[0].Path);
    }

    [Fact]
    public void An_empty_port_list_is_declared_and_refuses_every_port()
    {
        var x = Sandbox("LandlockBindPorts = []\nLandlockConnectPorts = [443, 5432]");
        Assert.True(x.HasLandlockNetwork);
        Assert.False(x.HasLandlockFilesystem);
        Assert.Empty(x.LandlockBindPorts!);
        Assert.Equal([443, 5432], x.LandlockConnectPorts!);
    }

    [Fact]
    public void Scope_and_compatibility_take_their_words()
    {
        var x = Sandbox("LandlockScope = [\"signal\", \"abstract-unix-socket\"]\nLandlockCompatibility = \"best-effort\"");
        Assert.Equal([LandlockScope.Signal, LandlockScope.AbstractUnixSocket], x.LandlockScope);
        Assert.Equal(LandlockCompatibility.BestEffort, x.LandlockCompatibility);
    }

    [Fact]
    public void A_relative_path_is_refused_where_it_is_written() =>
        Assert.Equal("svc.toml:4:25: svc: [Sandbox] LandlockReadOnlyPaths: expected an absolute path starting with \"/\", got \"etc\"",
            Error("LandlockReadOnlyPaths = [\"etc\"]"));

    [Theory]
    [InlineData("0", "svc.toml:4:21: svc: [Sandbox] LandlockBindPorts: expected an integer from 1 to 65535, got 0")]
    [InlineData("65536", "svc.toml:4:21: svc: [Sandbox] LandlockBindPorts: expected an integer from 1 to 65535, got 65536")]
    [InlineData("\"http\"", "svc.toml:4:21: svc: [Sandbox] LandlockBindPorts: expected an integer from 1 to 65535, got \"http\"")]
    public void A_port_outside_1_to_65535_is_refused_where_it_is_written(string port, string expected) =>
        Assert.Equal(expected, Error($"LandlockBindPorts = [{port}]"));

    [Fact]
    public void An_unknown_scope_names_the_choices() =>
        Assert.Contains("expected one of \"abstract-unix-socket\", \"signal\", got \"signals\"", Error("LandlockScope = [\"signals\"]"));

    [Fact]
    public void More_rules_than_a_plan_holds_is_one_error()
    {
        var ports = string.Join(", ", Enumerable.Range(1, Limits.PlanMaxLandlockRules + 1));
        Assert.Contains($"a unit has at most {Limits.PlanMaxLandlockRules} Landlock rules", Error($"LandlockBindPorts = [{ports}]"));
    }

    [Fact]
    public void Compatibility_alone_is_a_warning()
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "[Sandbox]\nLandlockCompatibility = \"best-effort\"\n");
        Assert.NotNull(unit);
        Assert.Contains(diagnostics, d => d.Severity == Severity.Warning && d.Key == "LandlockCompatibility");
    }
}
