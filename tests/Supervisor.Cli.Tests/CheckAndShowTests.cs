using System.Text.Json;

namespace Supervisor.Cli.Tests;

/// <summary>The `supervisor` command line as a user runs it: output, and exit codes 0 / 1 / 2.</summary>
public class CheckAndShowTests : IDisposable
{
    private readonly string _dir = CliRunner.UnitDirectory("supervisor-cli-test-");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRunner.Run(args);

    private static string RepoUnits()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Supervisor.sln"))) return Path.Combine(d.FullName, "units");
        throw new InvalidOperationException("repository root not found");
    }

    /// <summary>Copies the example units somewhere root would accept them (a clone may belong to another user).</summary>
    private string CopyExampleUnits()
    {
        foreach (var f in Directory.GetFiles(RepoUnits(), "*.toml"))
            File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        return _dir;
    }

    [Fact]
    public async Task Help_lists_the_subcommands()
    {
        var (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("check", output);
        Assert.Contains("show", output);
    }

    [Fact]
    public async Task Check_of_the_example_units_exits_0()
    {
        var (code, output, _) = await Run("check", CopyExampleUnits());
        Assert.Equal(ExitCodes.Ok, code);
        Assert.EndsWith("units checked, all valid\n", output);
    }

    [Fact]
    public async Task Check_of_a_copy_with_a_misspelt_key_exits_1_with_position_and_hint()
    {
        var web = File.ReadAllText(Path.Combine(RepoUnits(), "web.toml"));
        var lines = web.Split('\n').ToList();
        var line = lines.FindIndex(l => l.StartsWith("MemoryMax", StringComparison.Ordinal));
        lines[line] = lines[line].Replace("MemoryMax", "MemoryMaxx");
        var path = Path.Combine(_dir, "web.toml");
        File.WriteAllText(path, string.Join('\n', lines));

        var (code, output, _) = await Run("check", path);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains($"{path}:{line + 1}:1: web: unknown key 'MemoryMaxx' in [Resources]; did you mean 'MemoryMax'?", output);
    }

    [Fact]
    public async Task Check_on_a_directory_of_systemd_unit_files_says_there_are_no_toml_files_and_points_at_import()
    {
        File.WriteAllText(Path.Combine(_dir, "redis-server.service"), "[Service]\nExecStart=/usr/bin/redis-server\n");
        var (code, output, _) = await Run("check", _dir);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains($"no unit files (*.toml) in '{_dir}'; there is 1 systemd unit file (*.service): convert them with 'supervisor import {_dir} --out DIR'", output);
    }

    [Fact]
    public async Task Check_json_lists_diagnostics_for_scripts()
    {
        File.WriteAllText(Path.Combine(_dir, "a.toml"), "[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"nope\"\n");
        File.WriteAllText(Path.Combine(_dir, "b.toml"), "[Service]\nExecStart = [\"/bin/true\"]\n");
        var (code, output, _) = await Run("check", "--json", _dir);
        Assert.Equal(ExitCodes.Failure, code);
        using var doc = JsonDocument.Parse(output);
        Assert.False(doc.RootElement.GetProperty("valid").GetBoolean());
        var d = Assert.Single(doc.RootElement.GetProperty("diagnostics").EnumerateArray());
        Assert.Equal("error", d.GetProperty("severity").GetString());
        Assert.Equal(3, d.GetProperty("line").GetInt32());
        Assert.Equal(11, d.GetProperty("column").GetInt32());
        Assert.Equal("a", d.GetProperty("unit").GetString());
        Assert.Equal("Restart", d.GetProperty("key").GetString());
        var units = doc.RootElement.GetProperty("units").EnumerateArray().ToDictionary(u => u.GetProperty("name").GetString()!, u => u.GetProperty("valid").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { ["a"] = false, ["b"] = true }, units);
    }

    [Fact]
    public async Task Usage_errors_exit_2()
    {
        Assert.Equal(ExitCodes.Usage, (await Run("check", "--bogus")).Code);
        Assert.Equal(ExitCodes.Usage, (await Run("frobnicate")).Code);
        Assert.Equal(ExitCodes.Usage, (await Run("show")).Code);
    }

    [Fact]
    public async Task Show_prints_the_effective_unit_after_drop_ins()
    {
        var dir = CopyExampleUnits();
        Directory.CreateDirectory(Path.Combine(dir, "web.toml.d"));
        File.WriteAllText(Path.Combine(dir, "web.toml.d", "50-mem.toml"), "[Resources]\nMemoryMax = \"512M\"\n");
        var (code, output, _) = await Run("show", "web", "--units", dir);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("MemoryMax = \"512M\"\n", output);
        Assert.Contains("CPUQuota = \"50%\"\n", output);
        Assert.Contains("50-mem.toml", output.Split('\n')[0]);

        var (jsonCode, json, _) = await Run("show", "web", "--units", dir, "--json");
        Assert.Equal(ExitCodes.Ok, jsonCode);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("512M", doc.RootElement.GetProperty("Resources").GetProperty("MemoryMax").GetString());
    }

    [Fact]
    public async Task Show_of_an_unknown_unit_suggests_one()
    {
        var (code, _, error) = await Run("show", "wbe", "--units", CopyExampleUnits());
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains("no unit 'wbe'", error);
        Assert.Contains("did you mean 'web'?", error);
    }

    [Fact]
    public async Task Show_of_an_invalid_unit_prints_its_errors_and_exits_1()
    {
        File.WriteAllText(Path.Combine(_dir, "a.toml"), "[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"nope\"\n");
        var (code, output, error) = await Run("show", "a", "--units", _dir);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", output);
        Assert.Contains("a.toml:3:11: a: [Service] Restart", error);
        Assert.Contains("is not valid (bad-setting)", error);
    }
}
