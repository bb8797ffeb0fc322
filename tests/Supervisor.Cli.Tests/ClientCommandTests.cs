using System.Text.Json;
using Supervisor.Cli.Tests.Support;
using static Supervisor.Cli.Tests.Support.ApiHarness;

namespace Supervisor.Cli.Tests;

/// <summary>
/// Client commands as a person runs them against a daemon that was started with its own
/// directories: JSON a script can use, declarations and logs found where the daemon keeps them.
/// </summary>
public class ClientCommandTests
{
    private static async Task<ApiHarness> Started(params (string Name, string Text)[] units)
    {
        var h = new ApiHarness();
        foreach (var (name, text) in units) h.WriteUnit(name, text);
        await h.StartAsync();
        foreach (var (name, _) in units) await h.WaitForAsync(name, "active");
        return h;
    }

    [Fact]
    public async Task Status_json_gives_numbers_and_booleans_under_systemds_property_names()
    {
        await using var h = await Started(("web", Sleeper("[Resources]\nMemoryMax = \"128M\"\n[Sandbox]\nNamespaces = [\"pid\"]")));

        var (code, output, error) = await RunCli("status", "web", "--json", "--runtime-dir", h.Runtime);
        Assert.True(code == 0, error);
        var p = JsonDocument.Parse(output).RootElement;
        Assert.Equal(JsonValueKind.Number, p.GetProperty("MainPID").ValueKind);
        Assert.Equal(AutoHost.Pid, p.GetProperty("MainPID").GetInt32());
        Assert.Equal(0, p.GetProperty("NRestarts").GetInt32());
        Assert.Equal(128L << 20, p.GetProperty("MemoryMax").GetInt64());
        Assert.Equal(JsonValueKind.False, p.GetProperty("SeccompEnabled").ValueKind);
        Assert.Equal(JsonValueKind.Null, p.GetProperty("TasksMax").ValueKind); // UINT64_MAX: not set
        Assert.Equal("active", p.GetProperty("ActiveState").GetString());
        Assert.Equal("running", p.GetProperty("SubState").GetString());
        Assert.Equal(["pid"], p.GetProperty("Namespaces").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Array, p.GetProperty("Diagnostics").ValueKind);
        Assert.True(p.GetProperty("ActiveEnterTimestamp").GetUInt64() > 0);
    }

    [Fact]
    public async Task Status_and_list_units_json_of_all_units_use_the_same_keys()
    {
        await using var h = await Started(("web", Sleeper()));

        var (code, output, _) = await RunCli("status", "--json", "--runtime-dir", h.Runtime);
        Assert.Equal(0, code);
        var all = JsonDocument.Parse(output).RootElement;
        Assert.Equal("test layout", all.GetProperty("cgroups").GetString());
        var web = Assert.Single(all.GetProperty("units").EnumerateArray());
        Assert.Equal(("web", "active", "running"), (web.GetProperty("name").GetString(), web.GetProperty("active").GetString(), web.GetProperty("sub").GetString()));

        var (listCode, list, _) = await RunCli("list-units", "--json", "--runtime-dir", h.Runtime);
        Assert.Equal(0, listCode);
        Assert.True(JsonElement.DeepEquals(web, Assert.Single(JsonDocument.Parse(list).RootElement.EnumerateArray())), list);
    }

    [Fact]
    public async Task Show_without_units_reads_the_unit_files_of_the_running_daemon()
    {
        await using var h = await Started(("web", Sleeper()));

        var (code, output, error) = await RunCli("show", "web", "--runtime-dir", h.Runtime);
        Assert.True(code == 0, error);
        Assert.Contains("ExecStart = [\"/bin/sleep\", \"1000\"]", output);

        // --units wins over the daemon.
        var elsewhere = Path.Combine(h.Root, "other");
        Directory.CreateDirectory(elsewhere);
        var (otherCode, _, otherError) = await RunCli("show", "web", "--runtime-dir", h.Runtime, "--units", elsewhere);
        Assert.Equal(1, otherCode);
        Assert.Contains($"no unit 'web' in '{elsewhere}'", otherError);
    }

    [Fact]
    public async Task Without_a_daemon_show_falls_back_to_the_default_directory_and_says_so()
    {
        var runtime = Path.Combine(Path.GetTempPath(), "supervisor-no-daemon-" + Guid.NewGuid().ToString("N"));
        var (code, _, error) = await RunCli("show", "web", "--runtime-dir", runtime);
        Assert.Equal(1, code);
        Assert.Contains($"units directory '{Supervisor.Cli.Cli.DefaultUnitsDirectory}' (the default, as no daemon answered) does not exist (use --units DIR)", error);
    }

    [Fact]
    public async Task Inspect_of_a_unit_checks_its_process_against_the_declaration_the_daemon_runs()
    {
        await using var h = await Started(("web", Sleeper("[Sandbox]\nNamespaces = [\"pid\"]")));

        var (code, output, error) = await RunCli("inspect", "web", "--runtime-dir", h.Runtime);
        Assert.DoesNotContain("no unit", error);
        Assert.StartsWith($"process {AutoHost.Pid} (unit web)\n", output);
        // The fake host's main process is this test, which has no pid namespace of its own.
        Assert.Contains("DIFF", output);
        Assert.Equal(1, code);
        // The cgroup expected is in the daemon's subtree, not the default one.
        Assert.Contains(CgroupRoot, output);
    }

    [Fact]
    public async Task Status_shows_the_end_of_the_log_from_the_daemons_log_directory()
    {
        await using var h = await Started(("web", Sleeper()));
        h.WriteLog("web", "first line", "second line", "third line");

        var (code, output, error) = await RunCli("status", "web", "-n", "2", "--runtime-dir", h.Runtime);
        Assert.True(code == 0, error);
        Assert.DoesNotContain("first line", output);
        Assert.Contains("second line", output);
        Assert.Contains("third line", output);

        // An explicit --state-dir wins: nothing there.
        var (_, elsewhere, _) = await RunCli("status", "web", "-n", "2", "--runtime-dir", h.Runtime, "--state-dir", Path.Combine(h.Root, "other"));
        Assert.DoesNotContain("third line", elsewhere);
    }

    [Fact]
    public async Task Logs_without_state_dir_reads_the_daemons_log_directory()
    {
        await using var h = await Started(("web", Sleeper()));
        h.WriteLog("web", "hello from web");

        var (code, output, error) = await RunCli("logs", "web", "--runtime-dir", h.Runtime);
        Assert.True(code == 0, error);
        Assert.Contains("hello from web", output);
    }

    [Fact]
    public async Task A_stop_from_the_cli_leaves_a_line_naming_the_caller_in_the_units_log()
    {
        await using var h = await Started(("web", Sleeper()));

        var (code, _, error) = await RunCli("stop", "web", "--runtime-dir", h.Runtime);
        Assert.True(code == 0, error);
        Assert.Equal([$"web: stop requested by uid {ControlApiTests.Uid()} (pid {Environment.ProcessId}) over the control API"], h.UnitLogLines);
    }
}
