namespace Supervisor.Import.Tests;

/// <summary>`supervisor import` as a user runs it: the files it writes, what it prints, and its exit codes.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    private const string Clean = "[Unit]\nDescription=Clean\n[Service]\nType=notify\nExecStart=/bin/sleep 100\nRestart=on-failure\nRestartSec=2s\nUser=nobody\nNoNewPrivileges=yes\nMemoryMax=64M\n[Install]\nWantedBy=multi-user.target\n";

    [Fact]
    public async Task A_unit_whose_every_directive_is_carried_is_written_exits_0_and_passes_check()
    {
        var unit = _s.Write("clean.service", Clean);
        var (code, output, _) = await Cli.Run("import", unit, "--out", _s.Out);
        Assert.Equal(0, code);
        Assert.Contains($"→ {Path.Combine(_s.Out, "clean.toml")}", output);
        Assert.Contains("clean.service:12: WantedBy: init-only", output);
        var toml = File.ReadAllText(Path.Combine(_s.Out, "clean.toml"));
        Assert.Contains("MemoryMax = \"64M\"", toml);
        Assert.Contains("[Resources]", toml);
        var check = await Cli.Run("check", _s.Out);
        Assert.Equal((0, "1 unit checked, all valid\n"), (check.Code, check.Out));
        var show = await Cli.Run("show", "clean", "--units", _s.Out);
        Assert.Contains("RestartSec = \"2s\"", show.Out);
    }

    [Fact]
    public async Task Something_left_out_exits_3_and_is_listed_as_file_line_key_why_and_in_the_file()
    {
        var unit = _s.Write("redis.service", "[Service]\nExecStart=/bin/sleep 100\nPAMName=login\nMemoryMax=10%\n");
        var (code, output, _) = await Cli.Run("import", unit, "--out", _s.Out);
        Assert.Equal(ImportCommandExit.NotAllCarried, code);
        Assert.Contains($"{unit}:3: PAMName: no such key in Supervisor (not built yet)", output);
        Assert.Contains($"{unit}:4: MemoryMax: \"10%\" is a share of the memory", output);
        Assert.Contains($"#   {unit}:3: PAMName:", File.ReadAllText(Path.Combine(_s.Out, "redis.toml")));
        Assert.Equal(0, (await Cli.Run("check", _s.Out)).Code);
    }

    [Fact]
    public async Task An_existing_file_is_not_replaced_without_force_and_nothing_is_written()
    {
        var unit = _s.Write("clean.service", Clean);
        var other = _s.Write("other.service", Clean);
        _s.Write("out/clean.toml", "# mine\n");
        var (code, _, error) = await Cli.Run("import", unit, other, "--out", _s.Out);
        Assert.Equal(1, code);
        Assert.Contains("clean.toml exists; nothing was written (use --force to replace it)", error);
        Assert.Equal("# mine\n", File.ReadAllText(Path.Combine(_s.Out, "clean.toml")));
        Assert.False(File.Exists(Path.Combine(_s.Out, "other.toml")));
        Assert.Equal(0, (await Cli.Run("import", unit, "--out", _s.Out, "--force")).Code);
        Assert.StartsWith("# clean: imported from", File.ReadAllText(Path.Combine(_s.Out, "clean.toml")));
    }

    [Fact]
    public async Task A_socket_unit_is_imported_beside_its_service_and_the_service_keeps_its_Requires_on_it()
    {
        var service = _s.Write("bus.service", "[Unit]\nRequires=bus.socket\n[Service]\nExecStart=/bin/true\n");
        var socket = _s.Write("bus.socket", "[Socket]\nListenStream=/run/bus.sock\nListenStream=127.0.0.1:8080\nSocketMode=0660\nService=bus.service\n");
        var (code, output, error) = await Cli.Run("import", service, socket, "--out", _s.Out);
        Assert.True(code == 0, output + error);
        var written = File.ReadAllText(Path.Combine(_s.Out, "bus.socket.toml"));
        Assert.Contains("ListenStream = [\"/run/bus.sock\", \"127.0.0.1:8080\"]", written);
        Assert.Contains("SocketMode = \"0660\"", written);
        Assert.Contains("Requires = [\"bus.socket\"]", File.ReadAllText(Path.Combine(_s.Out, "bus.toml")));
    }

    [Theory]
    [InlineData("Accept=no\n", "ssh.service")]
    [InlineData("Accept=yes\n", "ssh@.service")]
    public async Task A_socket_imported_without_its_service_names_the_service_file_to_import_with_it(string accept, string serviceFile)
    {
        var socket = _s.Write("ssh.socket", "[Socket]\nListenStream=2222\n" + accept);
        var service = _s.Write(serviceFile, "[Service]\nExecStart=/usr/sbin/sshd -D\n");
        var (code, output, error) = await Cli.Run("import", socket, "--out", _s.Out);
        Assert.Equal(1, code);
        Assert.True((output + error).Contains($"or import {service} with it: supervisor import {socket} {service}", StringComparison.Ordinal), output + error);
        // Imported together, both are written.
        var both = await Cli.Run("import", socket, service, "--out", _s.Out);
        Assert.True(both.Code is 0 or ImportCommandExit.NotAllCarried, both.Out + both.Err);
        Assert.True(File.Exists(Path.Combine(_s.Out, "ssh.socket.toml")), both.Out + both.Err);
    }

    [Fact]
    public async Task Bad_input_exits_2_and_writes_nothing()
    {
        var good = _s.Write("clean.service", Clean);
        var timer = _s.Write("web.timer", "[Timer]\nOnCalendar=daily\n");
        var (code, _, error) = await Cli.Run("import", good, timer, Path.Combine(_s.Dir, "missing.service"), "--out", _s.Out);
        Assert.Equal(2, code);
        Assert.Contains("web.timer: Supervisor has no .timer units", error);
        Assert.Contains("missing.service: no such file or directory", error);
        Assert.False(Directory.Exists(_s.Out));

        var broken = _s.Write("broken.service", "[Service\nExecStart=/bin/true\n");
        var (brokenCode, _, brokenError) = await Cli.Run("import", broken, "--out", _s.Out);
        Assert.Equal(2, brokenCode);
        Assert.Contains($"{broken}:1:1: invalid section header", brokenError);
    }

    [Fact]
    public async Task A_unit_that_stays_invalid_is_not_written_and_exits_1()
    {
        var unit = _s.Write("getty.service", "[Service]\nExecStart=/sbin/agetty - $TERM\n");
        var (code, output, _) = await Cli.Run("import", unit, "--out", _s.Out);
        Assert.Equal(1, code);
        Assert.Contains("ExecStart: $TERM is set by systemd", output);
        Assert.Contains("not written: no ExecStart could be carried (see above)", output);
        Assert.False(File.Exists(Path.Combine(_s.Out, "getty.toml")));
    }

    [Fact]
    public async Task Check_writes_nothing_and_counts_per_directive_the_units_it_could_not_be_carried_in()
    {
        _s.Write("units/a.service", "[Unit]\nOnFailureJobMode=fail\nDefaultDependencies=no\n[Service]\nExecStart=/bin/true\nPAMName=login\n");
        _s.Write("units/b.service", "[Unit]\nOnFailureJobMode=replace\n[Service]\nExecStart=/bin/true\n");
        _s.Write("units/c.service", Clean);
        _s.Write("units/d.timer", "[Timer]\nOnCalendar=daily\n");
        var (code, output, _) = await Cli.Run("import", "--check", Path.Combine(_s.Dir, "units"), "--out", _s.Out);
        Assert.Equal(ImportCommandExit.NotAllCarried, code);
        Assert.False(Directory.Exists(_s.Out));
        Assert.Contains("skipped units of types Supervisor does not have: 1 .timer", output);
        Assert.Contains("3 units: 1 carried completely, 2 with something left out, 0 that cannot be written", output);
        Assert.Matches(@"OnFailureJobMode\s+2  no such key here \(not built yet\)", output);
        Assert.Matches(@"PAMName\s+1  no such key here", output);
        Assert.Matches(@"DefaultDependencies\s+1  init-only, no effect here \(left out on purpose\)", output);
        Assert.Matches(@"\[Install\] WantedBy\s+1  init-only", output);
    }

    [Fact]
    public async Task A_template_becomes_NAME_at_toml_and_check_of_the_service_file_points_at_import()
    {
        var unit = _s.Write("pg@.service", "[Service]\nExecStart=/bin/echo %i\n");
        var (code, output, _) = await Cli.Run("import", unit, "--out", _s.Out);
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(_s.Out, "pg@.toml")));
        File.WriteAllText(Path.Combine(_s.Out, "pg@15-main.toml"), "");
        // An empty file beside the template is the instance, and %i is its instance name.
        var set = Supervisor.Units.UnitLoader.LoadDirectory(_s.Out, new Supervisor.Units.LoadOptions { RequireRootOwnership = false });
        Assert.Equal(["/bin/echo", "15-main"], set.Units["pg@15-main"].Definition.Service.ExecStart!.Argv);
        var check = await Cli.Run("check", unit);
        Assert.Equal(1, check.Code);
        Assert.Contains("convert a systemd unit with 'supervisor import'", check.Out);
    }

    [Fact]
    public async Task A_slice_becomes_NAME_slice_toml_with_its_limits_in_Resources()
    {
        var slice = _s.Write("batch.slice", "[Unit]\nDescription=Batch\n[Slice]\nMemoryMax=1G\nCPUQuota=50%\n");
        var unit = _s.Write("job.service", "[Service]\nExecStart=/bin/true\nSlice=batch.slice\n");
        var (code, output, _) = await Cli.Run("import", slice, unit, "--out", _s.Out);
        Assert.True(code == 0, output);
        Assert.Equal("# batch.slice: imported from " + slice + " by `supervisor import`.\n\n[Unit]\nDescription = \"Batch\"  # batch.slice:2\n\n"
            + "[Resources]\nMemoryMax = \"1G\"  # batch.slice:4\nCPUQuota = \"50%\"  # batch.slice:5\n", File.ReadAllText(Path.Combine(_s.Out, "batch.slice.toml")));
        Assert.Equal(0, (await Cli.Run("check", _s.Out)).Code);
    }
}

internal static class ImportCommandExit
{
    public const int NotAllCarried = Supervisor.Cli.Commands.ImportCommand.NotAllCarried;
}
