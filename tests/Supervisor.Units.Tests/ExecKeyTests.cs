using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>systemd's Exec* prefixes, several ExecStart lines for oneshot, UnsetEnvironment and PassEnvironment.</summary>
public class ExecKeyTests
{
    private static Command Start(string argv, string service = "") =>
        Parse.Valid($"[Service]\n{service}ExecStart = {argv}\n").Service.ExecStart!;

    [Theory]
    [InlineData("-/bin/true", true, ExecFlags.None)]
    [InlineData(":/bin/true", false, ExecFlags.NoExpansion)]
    [InlineData("+/bin/true", false, ExecFlags.FullPrivileges)]
    [InlineData("!/bin/true", false, ExecFlags.NoUserChange)]
    [InlineData("!!/bin/true", false, ExecFlags.NoUserChangeWithoutAmbient)]
    [InlineData("+-/bin/true", true, ExecFlags.FullPrivileges)]
    [InlineData("-+/bin/true", true, ExecFlags.FullPrivileges)]
    [InlineData(":-!/bin/true", true, ExecFlags.NoExpansion | ExecFlags.NoUserChange)]
    [InlineData("-:!!/bin/true", true, ExecFlags.NoExpansion | ExecFlags.NoUserChangeWithoutAmbient)]
    [InlineData("/bin/true", false, ExecFlags.None)]
    public void Every_prefix_and_combination_is_read_off_the_program(string program, bool ignore, ExecFlags flags)
    {
        var c = Start($"[\"{program}\", \"x\"]");
        Assert.Equal(("/bin/true", ignore, flags, null), (c.Program, c.IgnoreFailure, c.Flags, c.Executable));
        Assert.Equal(["/bin/true", "x"], c.Argv);
    }

    [Fact]
    public void At_makes_the_second_element_argv0_and_the_first_the_program()
    {
        var c = Start("[\"-@/bin/sleep\", \"my-sleeper\", \"5\"]");
        Assert.Equal(("/bin/sleep", "/bin/sleep", true), (c.Program, c.Executable, c.IgnoreFailure));
        Assert.Equal(["my-sleeper", "5"], c.Argv);
        // A bare program name with "@" is looked up, argv[0] stays.
        var bare = Start("[\"@sleep\", \"zz\"]");
        Assert.Equal(("/usr/bin/sleep", "zz"), (bare.Program, bare.Argv[0]));
    }

    [Theory]
    [InlineData("+!/bin/true", "\"+!/bin/true\": the prefixes \"+\" (full privileges) and \"!\"/\"!!\" (no user change) exclude each other, and each is allowed once")]
    [InlineData("!+/bin/true", "\"!+/bin/true\": the prefixes \"+\" (full privileges) and \"!\"/\"!!\" (no user change) exclude each other, and each is allowed once")]
    [InlineData("--/bin/true", "\"--/bin/true\": the prefix \"-\" is repeated")]
    [InlineData("@@/bin/true", "\"@@/bin/true\": the prefix \"@\" is repeated")]
    [InlineData("-+", "the program name is empty after the prefixes \"-+\"")]
    [InlineData("?/bin/true", "program \"?/bin/true\" is a relative path; use an absolute path or a bare name looked up in PATH")]
    public void Prefixes_systemd_refuses_are_refused_where_they_are_written(string program, string cause) =>
        Assert.Equal($"svc.toml:2:13: svc: [Service] ExecStart: {cause}",
            Parse.SingleError($"[Service]\nExecStart = [\"{program}\", \"a\"]\n").ToString());

    [Fact]
    public void At_without_an_argv0_is_refused() =>
        Assert.Equal("svc.toml:2:13: svc: [Service] ExecStart: \"@/bin/true\": with the prefix \"@\" the second element is argv[0], and there is none",
            Parse.SingleError("[Service]\nExecStart = [\"@/bin/true\"]\n").ToString());

    [Fact]
    public void The_prefixes_work_on_every_Exec_key()
    {
        var s = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nExecStartPre = [[\"+/bin/mkdir\", \"-p\", \"/run/x\"]]\nExecStartPost = [[\"!/bin/true\"]]\n" +
            "ExecReload = [[\"@/bin/kill\", \"kill\", \"-HUP\", \"$MAINPID\"]]\nExecStop = [[\"-:/bin/false\"]]\nExecStopPost = [[\"!!/bin/true\"]]\n").Service;
        Assert.Equal(ExecFlags.FullPrivileges, s.ExecStartPre[0].Flags);
        Assert.Equal(ExecFlags.NoUserChange, s.ExecStartPost[0].Flags);
        Assert.Equal(("/bin/kill", "kill"), (s.ExecReload[0].Program, s.ExecReload[0].Argv[0]));
        Assert.Equal((true, ExecFlags.NoExpansion), (s.ExecStop[0].IgnoreFailure, s.ExecStop[0].Flags));
        Assert.Equal(ExecFlags.NoUserChangeWithoutAmbient, s.ExecStopPost[0].Flags);
    }

    [Fact]
    public void Show_writes_the_prefixes_back_so_the_unit_reads_the_same()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"-@/bin/sleep\", \"zz\", \"1\"]\nExecStartPre = [[\":+-/bin/echo\", \"$$\"]]\n");
        var again = Parse.Valid(UnitFormatter.ToToml(unit));
        Assert.Equal(unit.Service.ExecStart, again.Service.ExecStart);
        Assert.Equal(unit.Service.ExecStartPre, again.Service.ExecStartPre);
        Assert.Contains("\"-@/bin/sleep\", \"zz\", \"1\"", UnitFormatter.ToToml(unit), StringComparison.Ordinal);
    }

    [Fact]
    public void A_oneshot_takes_several_ExecStart_lines_in_order()
    {
        var s = Parse.Valid("[Service]\nType = \"oneshot\"\nExecStart = [[\"/bin/echo\", \"1\"], [\"-/bin/false\"], [\"echo\", \"3\"]]\n").Service;
        Assert.Equal(["/bin/echo", "/bin/false", "/usr/bin/echo"], s.ExecStartLines.Select(c => c.Program));
        Assert.True(s.ExecStartMore[0].IgnoreFailure);
        var again = Parse.Valid(UnitFormatter.ToToml(Parse.Valid("[Service]\nType = \"oneshot\"\nExecStart = [[\"/bin/echo\", \"1\"], [\"/bin/true\"]]\n")));
        Assert.Equal(["/bin/echo", "/bin/true"], again.Service.ExecStartLines.Select(c => c.Program));
        // One command in the array-of-arrays form is the same as the plain form.
        Assert.Equal(Start("[\"/bin/true\", \"a\"]"), Start("[[\"/bin/true\", \"a\"]]"));
    }

    [Fact]
    public void Several_ExecStart_lines_are_refused_for_any_type_but_oneshot()
    {
        var d = Parse.SingleError("[Service]\nExecStart = [[\"/bin/true\"], [\"/bin/true\"]]\n");
        Assert.Equal(("svc.toml:2:13", "ExecStart"), (d.Location.ToString(), d.Key));
        Assert.Equal("[Service] ExecStart: 2 commands, but only Type = \"oneshot\" runs several (systemd refuses them too); " +
            "a service of any other type has exactly one main command", d.Message);
    }

    [Fact]
    public void A_bare_name_among_several_ExecStart_lines_that_is_not_found_is_reported_at_its_own_element() =>
        Assert.StartsWith("svc.toml:3:29: svc: [Service] ExecStart: program 'no-such-program-x' is not in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            Parse.SingleError("[Service]\nType = \"oneshot\"\nExecStart = [[\"/bin/true\"], [\"no-such-program-x\"]]\n").ToString());

    [Fact]
    public void UnsetEnvironment_and_PassEnvironment_take_names_and_refuse_anything_else()
    {
        var s = Parse.Valid(Parse.MinimalService + "UnsetEnvironment = [\"LANG\", \"TERM=dumb\"]\nPassEnvironment = [\"TZ\"]\n").Service;
        Assert.Equal(["LANG", "TERM=dumb"], s.UnsetEnvironment);
        Assert.Equal(["TZ"], s.PassEnvironment);
        Assert.Equal("svc.toml:3:19: svc: [Service] PassEnvironment: \"TZ=x\": expected a variable name, not an assignment",
            Parse.SingleError(Parse.MinimalService + "PassEnvironment = [\"TZ=x\"]\n").ToString());
        Assert.Equal("svc.toml:3:20: svc: [Service] UnsetEnvironment: invalid environment variable name \"1A\": letters, digits and _ only, not starting with a digit",
            Parse.SingleError(Parse.MinimalService + "UnsetEnvironment = [\"1A\"]\n").ToString());
    }
}
