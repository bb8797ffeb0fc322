using System.Text.Json;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Tests;

/// <summary>
/// `supervisor security --suggest UNIT` over a units directory and a state directory holding what
/// learn mode recorded: the drop-in it prints loads with the unit, and enforces what was learned;
/// the exposure line "learned filter" judges the enforced list against it; errors and exit codes.
/// </summary>
public sealed class SuggestCommandTests : IDisposable
{
    private readonly string _dir = CliRunner.UnitDirectory("supervisor-suggest-test-");
    private readonly string _state = CliRunner.UnitDirectory("supervisor-suggest-state-");

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_state, recursive: true);
    }

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRunner.Run(args);

    private const string Learning = """
        [Service]
        ExecStart = ["/bin/true"]
        [Sandbox]
        SystemCallFilterMode = "learn"
        CapabilityBoundingSet = ["CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN"]
        """;

    /// <summary>What learn mode writes: redis-like calls, AF_UNIX and AF_INET sockets, SO_REUSEADDR, clone without namespace flags.</summary>
    private void Learned(string unit, string calls)
    {
        Directory.CreateDirectory(Path.Combine(_state, "seccomp-learned"));
        File.WriteAllText(Path.Combine(_state, "seccomp-learned", unit + ".json"), $$"""
            { "calls": [{{calls}}], "address_families": [1, 2],
              "arguments": { "socket": [{{(1UL << 32) | (1 << 16)}}, {{(2UL << 32) | (1 << 16)}}], "setsockopt": [{{(1UL << 32) | 2}}], "clone": [0] },
              "since": "2026-12-03T10:00:00+00:00" }
            """);
    }

    private const string Calls = "\"accept4\", \"bind\", \"clone\", \"close\", \"epoll_wait\", \"listen\", \"openat\", \"read\", \"setsockopt\", \"socket\", \"write\"";

    [Fact]
    public async Task The_drop_in_loads_with_the_unit_and_enforces_exactly_what_was_learned()
    {
        File.WriteAllText(Path.Combine(_dir, "web.toml"), Learning);
        Learned("web", Calls);
        var (code, dropIn, error) = await Run("security", "--suggest", "web", "--units", _dir, "--state-dir", _state);
        Assert.True(code == 0, error);
        Assert.Contains($"# Save as {_dir}/web.toml.d/50-suggested.toml", dropIn);
        Assert.Contains("# Learned: 11 system calls outside the baseline (@default) since 2026-12-03 10:00:00 UTC,", dropIn);
        Assert.Contains("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", dropIn);
        Assert.Contains("RestrictNamespaces = true", dropIn);
        Assert.Contains("#   CAP_SETUID: none of setuid", dropIn);
        Assert.Contains("#   CAP_NET_BIND_SERVICE: bind was called", dropIn);

        Directory.CreateDirectory(Path.Combine(_dir, "web.toml.d"));
        File.WriteAllText(Path.Combine(_dir, "web.toml.d", "50-suggested.toml"), dropIn);
        var set = UnitLoader.LoadDirectory(_dir);
        Assert.True(set.Units.ContainsKey("web"), string.Join("\n", set.DiagnosticsFor("web")));
        var sandbox = set.Units["web"].Definition.Sandbox;
        Assert.Equal(SyscallFilterMode.Enforce, sandbox.SystemCallFilterMode);
        Assert.Equal(1, sandbox.SystemCallErrorNumber);
        var allowed = sandbox.SystemCallFilter!.Resolve();
        Assert.True(sandbox.SystemCallFilter.IsAllowList);
        foreach (var call in new[] { "accept4", "bind", "clone", "socket", "setsockopt", "getpid" }) Assert.Contains(call, allowed);
        Assert.DoesNotContain("keyctl", allowed);
        Assert.DoesNotContain("mount", allowed);
        Assert.Equal(
            ["CAP_DAC_OVERRIDE", "CAP_NET_BIND_SERVICE"],
            sandbox.CapabilityBoundingSet!.Capabilities.Select(Supervisor.Units.Values.Capabilities.Name).Order());

        var score = (await Run("security", "web", "--units", _dir, "--state-dir", _state)).Out;
        Assert.Matches(@"pass learned filter \(security --suggest\)\s+-\s+the enforced filter allows no dangerous call beyond @default and the 11 learned", score);
    }

    [Fact]
    public async Task The_learned_line_fails_while_learning_and_flags_a_wider_filter()
    {
        File.WriteAllText(Path.Combine(_dir, "web.toml"), Learning);
        Learned("web", Calls);
        var learning = (await Run("security", "web", "--units", _dir, "--state-dir", _state)).Out;
        Assert.Matches(@"FAIL learned filter \(security --suggest\)\s+-\s+11 calls learned, still learning", learning);

        File.WriteAllText(Path.Combine(_dir, "web.toml"), "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nSystemCallFilter = [\"@system-service\"]\n");
        var wide = (await Run("security", "web", "--units", _dir, "--state-dir", _state)).Out;
        Assert.Matches(@"FAIL learned filter \(security --suggest\)\s+-\s+the enforced filter allows \d+ dangerous calls the service was not seen to make: .*keyctl", wide);

        var none = (await Run("security", "web", "--units", _dir, "--state-dir", Path.Combine(_state, "nothing"))).Out;
        Assert.Matches(@"n/a  learned filter \(security --suggest\)\s+-\s+nothing learned", none);
    }

    [Fact]
    public async Task Json_has_the_same_drop_in_and_each_entry_with_its_reason()
    {
        File.WriteAllText(Path.Combine(_dir, "web.toml"), Learning);
        Learned("web", Calls);
        var text = (await Run("security", "--suggest", "web", "--units", _dir, "--state-dir", _state)).Out;
        var (code, output, error) = await Run("security", "--suggest", "web", "--json", "--units", _dir, "--state-dir", _state);
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(text, json.GetProperty("toml").GetString());
        Assert.Equal(11, json.GetProperty("learnedCalls").GetInt32());
        Assert.Contains(json.GetProperty("systemCallFilter").EnumerateArray(), e => e.GetProperty("entry").GetString() == "bind");
        Assert.Contains(json.GetProperty("capabilitiesDropped").EnumerateArray(), e => e.GetProperty("capability").GetString() == "CAP_SETUID");
    }

    [Fact]
    public async Task Nothing_learned_is_exit_1_naming_the_file_and_two_units_are_a_usage_error()
    {
        File.WriteAllText(Path.Combine(_dir, "web.toml"), Learning);
        var (code, _, error) = await Run("security", "--suggest", "web", "--units", _dir, "--state-dir", _state);
        Assert.Equal(1, code);
        Assert.Contains($"supervisor: web: nothing learned yet ('{_state}/seccomp-learned/web.json' does not exist): run the unit with SystemCallFilterMode = \"learn\" first", error);
        Assert.Equal(2, (await Run("security", "--suggest", "web", "db", "--units", _dir, "--state-dir", _state)).Code);
        var unknown = await Run("security", "--suggest", "nope", "--units", _dir, "--state-dir", _state);
        Assert.Equal(1, unknown.Code);
        Assert.Contains("no unit 'nope'", unknown.Err);
    }
}
