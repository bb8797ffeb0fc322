using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #13: a bare program name is resolved when the unit is loaded, in systemd's search path,
/// so check and start agree ("redis-server" passed check, then start refused it as not absolute).
/// </summary>
public class ExecutableSearchTests
{
    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };

    private static CompileContext Ctx() => new()
    {
        Host = new HostFacts(40, CapabilityTable.HostMask(40), false, false),
        Users = UserDatabase.Parse("", ""),
    };

    [Fact]
    public void A_bare_name_is_resolved_in_the_search_path_and_the_plan_executes_that_path()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"sleep\", \"100\"]\nExecStop = [[\"-kill\", \"1\"]]\n");
        var start = unit.Service.ExecStart!;
        Assert.Equal(["sleep", "100"], start.Argv);
        Assert.Equal(ExecutableSearch.SearchPath.Split(':').Select(d => d + "/sleep").First(File.Exists), start.Program);
        Assert.True(unit.Service.ExecStop[0].IgnoreFailure);
        Assert.EndsWith("/kill", unit.Service.ExecStop[0].Program);

        var plan = Sandbox.Compiler.ExecPlanCompiler.Compile(unit, Ctx());
        Assert.Equal(start.Program, plan.Path);
        Assert.Equal(["sleep", "100"], plan.Argv); // argv[0] as written, as systemd passes it
    }

    [Fact]
    public void An_absolute_program_is_kept_as_written()
    {
        var start = Parse.Valid("[Service]\nExecStart = [\"/bin/sleep\", \"1\"]\n").Service.ExecStart!;
        Assert.Null(start.ResolvedPath);
        Assert.Equal("/bin/sleep", start.Program);
    }

    [Fact]
    public void A_name_that_is_not_found_is_an_error_where_it_is_written() =>
        Assert.Equal("svc.toml:2:13: svc: [Service] ExecStart: program 'no-such-program-for-supervisor' is not in " +
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; install it, or write its absolute path",
            Parse.SingleError("[Service]\nExecStart = [\"no-such-program-for-supervisor\", \"x\"]\n").ToString());

    [Fact]
    public void In_a_command_list_the_error_points_at_the_command()
    {
        var d = Parse.SingleError("[Service]\nExecStart = [\"/bin/true\"]\nExecStartPre = [[\"true\"],\n  [\"no-such-program-for-supervisor\"]]\n");
        Assert.Equal((4, 3), (d.Location.Line, d.Location.Column));
        Assert.Equal("ExecStartPre", d.Key);
    }

    [Fact]
    public void With_RootDirectory_the_name_is_looked_up_inside_the_root()
    {
        using var t = new TempUnits();
        var root = Path.Combine(t.Dir, "root");
        Directory.CreateDirectory(Path.Combine(root, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(root, "bin/tool-dir"));
        File.WriteAllText(Path.Combine(root, "usr/bin/tool"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(root, "usr/bin/tool"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(root, "usr/bin/data"), "not a program\n");
        string Unit(string program) => $"[Service]\nExecStart = [\"{program}\"]\n[Sandbox]\nRootDirectory = \"{root}\"\n";

        var tool = Parse.Valid(Unit("tool")).Service.ExecStart!;
        Assert.Equal("/usr/bin/tool", tool.Program); // the path inside the root; the plan places it under the root
        var plan = Sandbox.Compiler.ExecPlanCompiler.Compile(Parse.Valid(Unit("tool")), Ctx());
        Assert.Equal("/usr/bin/tool", plan.Path);

        // On the host, not in the root; not executable; a directory: none of them is a program.
        foreach (var missing in new[] { "sleep", "data", "tool-dir" })
            Assert.Equal($"[Service] ExecStart: program '{missing}' is not in {ExecutableSearch.SearchPath} inside RootDirectory '{root}'",
                Parse.SingleError(Unit(missing)).Message);
    }

    [Fact]
    public void Check_refuses_what_start_would_refuse_and_the_other_units_still_load()
    {
        using var t = new TempUnits();
        t.Write("redis.toml", "[Service]\nExecStart = [\"redis-server-not-installed\", \"--port\", \"6379\"]\n");
        t.Write("ok.toml", "[Service]\nExecStart = [\"true\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(["redis"], set.BadUnits.Keys);
        Assert.Equal(["ok"], set.Units.Keys);
    }

    [Fact]
    public void Show_prints_the_name_as_written_and_it_parses_back_to_the_same_unit()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"sleep\", \"1\"]\n");
        var toml = UnitFormatter.ToToml(unit);
        Assert.Contains("ExecStart = [\"sleep\", \"1\"]", toml);
        Assert.Equal(unit, Parse.Valid(toml) with { Sources = unit.Sources });
    }
}
