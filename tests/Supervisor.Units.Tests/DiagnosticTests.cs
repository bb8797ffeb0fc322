namespace Supervisor.Units.Tests;

/// <summary>Every error class with its exact message, file:line:col and hint.</summary>
public class DiagnosticTests
{
    [Fact]
    public void Unknown_key_names_place_section_and_nearest_key()
    {
        var d = Parse.SingleError("[Service]\nExecStart = [\"/bin/true\"]\n\n[Resources]\nMemoryMaxx = \"64M\"\n", "web");
        Assert.Equal("web.toml:5:1: web: unknown key 'MemoryMaxx' in [Resources]; did you mean 'MemoryMax'?", d.ToString());
        Assert.Equal(("Resources", "MemoryMaxx"), (d.Section, d.Key));
    }

    [Fact]
    public void Unknown_key_without_a_near_match_has_no_hint() =>
        Assert.Equal("svc.toml:3:1: svc: unknown key 'Frobnicate' in [Service]",
            Parse.SingleError(Parse.MinimalService + "Frobnicate = 1\n").ToString());

    [Fact]
    public void Key_in_the_wrong_section_says_where_it_belongs() =>
        Assert.Equal("svc.toml:3:1: svc: key 'MemoryMax' does not belong in [Service]; move it to [Resources]",
            Parse.SingleError(Parse.MinimalService + "MemoryMax = \"1G\"\n").ToString());

    [Fact]
    public void Unknown_section_suggests_the_nearest() =>
        Assert.Equal("svc.toml:3:1: svc: unknown section [Resource]; did you mean 'Resources'?",
            Parse.SingleError(Parse.MinimalService + "[Resource]\nMemoryMax = \"1G\"\n").ToString());

    [Fact]
    public void Key_outside_any_section() =>
        Assert.Equal("svc.toml:1:1: svc: key 'Restart' is outside any section; put it under [Service]",
            Parse.SingleError("Restart = \"always\"\n" + Parse.MinimalService).ToString());

    [Fact]
    public void Wrong_type_says_expected_and_got() =>
        Assert.Equal("svc.toml:3:17: svc: [Service] RestartSec: expected a duration like \"250ms\", \"30s\" or \"1min 30s\" (us, ms, s, min, h, d, w; a bare number is seconds) or \"infinity\", got true",
            Parse.SingleError(Parse.MinimalService + "RestartSec    = true\n").ToString());

    [Fact]
    public void Bad_enum_value_suggests_the_nearest() =>
        Assert.Equal("svc.toml:3:11: svc: [Service] Restart: expected one of \"no\", \"on-success\", \"on-failure\", \"on-abnormal\", \"on-watchdog\", \"on-abort\", \"always\", got \"on-failur\"; did you mean 'on-failure'?",
            Parse.SingleError(Parse.MinimalService + "Restart = \"on-failur\"\n").ToString());

    [Fact]
    public void Out_of_range_integer() =>
        Assert.Equal("svc.toml:4:13: svc: [Resources] CPUWeight: expected an integer from 1 to 10000, got 0",
            Parse.SingleError(Parse.MinimalService + "[Resources]\nCPUWeight = 0\n").ToString());

    [Fact]
    public void Unknown_capability() =>
        Assert.Equal("svc.toml:4:25: svc: [Sandbox] CapabilityBoundingSet: unknown capability \"CAP_NET_BIND_SERVIC\"; did you mean 'CAP_NET_BIND_SERVICE'?",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nCapabilityBoundingSet = [\"CAP_NET_BIND_SERVIC\"]\n").ToString());

    [Fact]
    public void Unknown_syscall_group() =>
        Assert.Equal("svc.toml:4:20: svc: [Sandbox] SystemCallFilter: unknown system call group \"@system-servce\"; did you mean '@system-service'?",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nSystemCallFilter = [\"@system-servce\"]\n").ToString());

    [Fact]
    public void Unknown_syscall() =>
        Assert.Equal("svc.toml:4:20: svc: [Sandbox] SystemCallFilter: unknown system call \"opne\"; did you mean 'open'?",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nSystemCallFilter = [\"read opne\"]\n").ToString());

    [Fact]
    public void Unknown_errno_name_suggests_the_nearest() =>
        Assert.Equal("svc.toml:4:25: svc: [Sandbox] SystemCallErrorNumber: expected an errno name like \"EPERM\", got \"EPREM\"; did you mean 'EPERM'?",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nSystemCallErrorNumber = \"EPREM\"\n").ToString());

    [Fact]
    public void Relative_program_is_refused() =>
        Assert.Equal("svc.toml:2:13: svc: [Service] ExecStart: program \"bin/app\" is a relative path; use an absolute path or a bare name looked up in PATH",
            Parse.SingleError("[Service]\nExecStart = [\"bin/app\"]\n").ToString());

    [Fact]
    public void Missing_ExecStart() =>
        Assert.Equal("svc.toml: svc: [Service] has no ExecStart; add ExecStart = [\"/path/to/program\", \"arg\"]",
            Parse.SingleError("[Service]\nRestart = \"always\"\n").ToString());

    [Fact]
    public void Slice_cannot_have_a_service_section() =>
        Assert.Equal("web.slice.toml:1:1: web.slice: [Service] is not allowed in a slice; slices have only [Unit] and [Resources]",
            Parse.SingleError(Parse.MinimalService, "web.slice", Model.UnitKind.Slice).ToString());

    [Fact]
    public void Hostname_without_uts_namespace() =>
        Assert.Equal("svc.toml:4:12: svc: [Sandbox] Hostname needs its own uts namespace, or it would rename the host; add \"uts\" to Namespaces",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nHostname = \"x\"\n").ToString());

    [Fact]
    public void Ambient_capability_outside_the_bounding_set() =>
        Assert.Equal("svc.toml:5:23: svc: [Sandbox] AmbientCapabilities: CAP_NET_BIND_SERVICE is not in CapabilityBoundingSet, so it cannot be kept",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nCapabilityBoundingSet = [\"CAP_CHOWN\"]\nAmbientCapabilities = [\"CAP_NET_BIND_SERVICE\"]\n").ToString());

    [Fact]
    public void Not_toml_reports_tomlyns_position() =>
        Assert.StartsWith("svc.toml:2:13: svc: not valid TOML:", Parse.SingleError("[Service]\nExecStart = = 1\n").ToString());

    [Fact]
    public void Duplicate_key_is_not_valid_toml() =>
        Assert.StartsWith("svc.toml:3:1: svc: not valid TOML:", Parse.SingleError(Parse.MinimalService + "ExecStart = [\"/bin/false\"]\n").ToString());

    [Fact]
    public void Empty_file() =>
        Assert.Equal("svc.toml: svc: file is empty; a unit needs at least a [Service] section with ExecStart",
            Parse.SingleError("  \n# only a comment\n").ToString());

    [Fact]
    public void Not_utf8_names_the_line()
    {
        var diagnostics = new List<Diagnostic>();
        var bytes = "[Service]\nDescription = \"caf"u8.ToArray().Concat(new byte[] { 0xE9, (byte)'"', (byte)'\n' }).ToArray();
        Assert.Null(Syntax.UnitFileReader.Parse(bytes, "svc.toml", "svc", diagnostics));
        Assert.Equal("svc.toml:2:19: svc: file is not valid UTF-8", Assert.Single(diagnostics).ToString());
    }

    [Fact]
    public void Absurd_nesting_is_refused_before_the_parser_can_overflow_its_stack()
    {
        var text = "[Service]\nExecStart = " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        Assert.Equal("svc.toml:2:31: svc: arrays or inline tables nested deeper than 16 levels", Parse.SingleError(text).ToString());
    }

    [Fact]
    public void Brackets_inside_strings_and_comments_do_not_count_as_nesting() =>
        Parse.Valid("[Service] # [[[[[[[[[[[[[[[[[[[[[[[\nExecStart = [\"/bin/echo\", \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", '''{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{''']\n");

    [Fact]
    public void Every_problem_in_a_file_is_reported_not_just_the_first()
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "Restart = \"sometimes\"\nRestartSec = \"soon\"\n[Resources]\nMemoryMaxx = 1\n");
        Assert.Null(unit);
        Assert.Equal(3, diagnostics.Count(d => d.Severity == Severity.Error));
    }

    [Fact]
    public void Warnings_do_not_make_a_unit_bad()
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "PIDFile = \"/run/x.pid\"\n");
        Assert.NotNull(unit);
        Assert.Equal("svc.toml:3:11: warning: svc: [Service] PIDFile is only used with Type = \"forking\"; ignoring it", Assert.Single(diagnostics).ToString());
    }
}
