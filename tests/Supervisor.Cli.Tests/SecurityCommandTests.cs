using System.Text.Json;

namespace Supervisor.Cli.Tests;

/// <summary>`supervisor security` over unit files and a units directory: the score, --threshold as a CI gate, --json, and located errors.</summary>
public sealed class SecurityCommandTests : IDisposable
{
    private readonly string _dir = CliRunner.UnitDirectory("supervisor-security-test-");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRunner.Run(args);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Bare = "[Service]\nExecStart = [\"/bin/true\"]\n";

    private const string Hardened = """
        [Service]
        ExecStart = ["/bin/true"]
        User = "nobody"
        [Sandbox]
        DynamicUser = true
        PrivateNetwork = true
        PrivateDevices = true
        CapabilityBoundingSet = []
        SystemCallFilter = ["@system-service", "~@privileged @resources"]
        SystemCallArchitectures = ["native"]
        RestrictNamespaces = true
        """;

    [Fact]
    public async Task A_unit_file_is_scored_with_a_line_per_check_and_systemds_overall_line()
    {
        var (code, output, error) = await Run("security", Write("web.toml", Bare));
        Assert.True(code == 0, error);
        Assert.Contains("web: declared in ", output);
        Assert.Matches(@"FAIL PrivateNetwork=\s+2500\s+0\.5\s+Service has access to the host's network", output);
        Assert.Contains("n/a  SupplementaryGroups=", output);
        Assert.Contains("→ Overall exposure level for web: 9.6 UNSAFE", output);
        Assert.Contains("Supervisor only (weight 0: shown, not in the score)", output);
    }

    [Fact]
    public async Task The_threshold_fails_only_the_units_above_it()
    {
        Write("web.toml", Bare);
        Write("strict.toml", Hardened);
        var (code, output, error) = await Run("security", "--units", _dir, "--threshold", "9.5");
        Assert.Equal(1, code);
        Assert.Contains("supervisor: web: exposure 9.6 is above the threshold 9.5", error);
        Assert.DoesNotContain("strict: exposure", error);
        Assert.Contains("Overall exposure level for strict", output);
        Assert.Equal(0, (await Run("security", "--units", _dir, "--threshold", "9.6")).Code);
        Assert.Equal(0, (await Run("security", "strict", "--units", _dir, "--threshold", "9.5")).Code);
    }

    [Fact]
    public async Task Json_gives_the_score_and_every_check_with_its_weight_and_verdict()
    {
        var (code, output, _) = await Run("security", "--json", "--threshold", "5", Write("web.toml", Bare));
        Assert.Equal(1, code);
        var unit = JsonDocument.Parse(output).RootElement.GetProperty("units")[0];
        Assert.Equal("web", unit.GetProperty("unit").GetString());
        Assert.Equal(9.6m, unit.GetProperty("exposure").GetDecimal());
        Assert.Equal("UNSAFE", unit.GetProperty("rating").GetString());
        Assert.True(unit.GetProperty("aboveThreshold").GetBoolean());
        var checks = unit.GetProperty("checks").EnumerateArray().ToList();
        var net = checks.Single(c => c.GetProperty("name").GetString() == "PrivateNetwork=");
        Assert.Equal(2500, net.GetProperty("weight").GetInt32());
        Assert.False(net.GetProperty("passes").GetBoolean());
        Assert.Equal(0.5m, net.GetProperty("exposure").GetDecimal());
        Assert.Equal(JsonValueKind.Null, checks.Single(c => c.GetProperty("name").GetString() == "SupplementaryGroups=").GetProperty("passes").ValueKind);
        Assert.Contains(checks, c => c.GetProperty("supervisorOnly").GetBoolean() && c.GetProperty("weight").GetInt32() == 0);
    }

    [Fact]
    public async Task A_bad_unit_is_reported_with_file_line_column_and_key_and_the_others_are_still_scored()
    {
        Write("good.toml", Bare);
        Write("bad.toml", "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nProtectSystem = \"sometimes\"\n");
        var (code, output, error) = await Run("security", "--units", _dir);
        Assert.Equal(1, code);
        Assert.Matches(@"bad\.toml:4:\d+: bad: .*ProtectSystem", error);
        Assert.Contains("supervisor: unit 'bad' is not valid (bad-setting); not scored", error);
        Assert.Contains("Overall exposure level for good: 9.6", output);
        Assert.DoesNotContain("at Supervisor.", error);
    }

    [Theory]
    [InlineData("11")]
    [InlineData("10.05")]
    public async Task A_threshold_outside_the_scale_is_a_usage_error(string threshold)
    {
        var (code, _, error) = await Run("security", "--threshold", threshold, Write("web.toml", Bare));
        Assert.Equal(2, code);
        Assert.Contains("expected a score from 0.0 to 10.0", error);
    }

    [Fact]
    public async Task A_missing_file_or_unit_is_an_error_that_names_it()
    {
        var (code, _, error) = await Run("security", Path.Combine(_dir, "nope.toml"));
        Assert.Equal(1, code);
        Assert.Contains("nope.toml': no such unit file or directory", error);
        Write("web.toml", Bare);
        (code, _, error) = await Run("security", "wbe", "--units", _dir);
        Assert.Equal(1, code);
        Assert.Contains("no unit 'wbe'", error);
    }
}
