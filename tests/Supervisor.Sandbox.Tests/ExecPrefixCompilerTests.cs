using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Launch;
using Supervisor.Units.Model;
using UnitNs = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Sandbox.Tests;

/// <summary>What "+", "!" and "!!" do to a command's plan, PassEnvironment/UnsetEnvironment, and the expansion at launch.</summary>
public class ExecPrefixCompilerTests
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
    private const string Group = "root:x:0:\nwww-data:x:33:\n";

    private static CompileContext Ctx() => new()
    {
        Host = new HostFacts(40, CapabilityTable.HostMask(40), false, false),
        Users = UserDatabase.Parse(Passwd, Group),
        CgroupProcsFiles = ["/sys/fs/cgroup/memory/web/cgroup.procs"],
    };

    private static readonly SandboxSection Strict = new()
    {
        Namespaces = UnitNs.Pid,
        ProtectSystem = ProtectSystem.Strict,
        PrivateTmp = true,
        NoNewPrivileges = true,
        CapabilityBoundingSet = new CapabilitySet(ValueList.Of(10), false),
        SystemCallFilter = new SyscallFilter(true, ValueList.Of(new SyscallFilterEntry(false, ValueList.Of("@system-service")))),
    };

    private static UnitDefinition Unit(ServiceSection? service = null) => new()
    {
        Name = "web",
        Kind = UnitKind.Service,
        Sources = ValueList.Of("/etc/supervisor/units/web.toml"),
        Service = service ?? new ServiceSection { ExecStart = new Command(ValueList.Of("/bin/true"), false), User = "www-data" },
        Sandbox = Strict,
    };

    private static Command Cmd(ExecFlags flags) => new(ValueList.Of("/bin/sh", "-c", "true"), false) { Flags = flags };

    [Fact]
    public void Plus_drops_the_whole_sandbox_and_the_user_but_keeps_the_cgroup_and_environment()
    {
        var unit = Unit() with { Service = Unit().Service with { Environment = ValueList.Of(KeyValuePair.Create("A", "1")), Limits = ValueList.Of(KeyValuePair.Create("LimitNOFILE", new RLimit(100, 200))) } };
        var plan = ExecPlanCompiler.Compile(unit, Ctx(), Cmd(ExecFlags.FullPrivileges));
        Assert.Equal((NamespaceFlags.None, null, null, false, null), (plan.Namespaces, plan.Identity, plan.Capabilities, plan.NoNewPrivileges, plan.SecureBits));
        Assert.Empty(plan.Mounts);
        Assert.Empty(plan.SeccompBpf);
        Assert.Empty(plan.KernelProtections);
        Assert.Equal("/sys/fs/cgroup/memory/web", plan.CgroupJoins.Single().Directory);
        Assert.Contains("A=1", plan.Environment);
        Assert.Contains("USER=www-data", plan.Environment);
        Assert.Equal(RlimitResource.Nofile, plan.ResourceLimits.Single().Resource);
        // The same unit's plain command keeps all of it.
        var sandboxed = ExecPlanCompiler.Compile(unit, Ctx(), Cmd(ExecFlags.None));
        Assert.Equal(33u, sandboxed.Identity!.Uid);
        Assert.NotEmpty(sandboxed.SeccompBpf);
        Assert.True(sandboxed.NoNewPrivileges);
        Assert.NotEmpty(sandboxed.Mounts);
    }

    [Fact]
    public void Bang_keeps_the_sandbox_but_runs_as_root()
    {
        var plan = ExecPlanCompiler.Compile(Unit(), Ctx(), Cmd(ExecFlags.NoUserChange));
        Assert.Null(plan.Identity);
        Assert.NotEmpty(plan.Mounts);
        Assert.NotEmpty(plan.SeccompBpf);
        Assert.True((plan.Namespaces & NamespaceFlags.Pid) != 0);
        // Root keeps the bounding set in permitted and effective; the bounding set is still the unit's.
        Assert.Equal(1UL << 10, plan.Capabilities!.Bounding);
        Assert.Equal(1UL << 10, plan.Capabilities.Effective);
        Assert.Contains("USER=www-data", plan.Environment);
    }

    [Fact]
    public void Double_bang_is_no_prefix_on_a_kernel_with_ambient_capabilities() =>
        Assert.Equal(HelperProtocol.Serialize(ExecPlanCompiler.Compile(Unit(), Ctx(), Cmd(ExecFlags.None))),
            HelperProtocol.Serialize(ExecPlanCompiler.Compile(Unit(), Ctx(), Cmd(ExecFlags.NoUserChangeWithoutAmbient))));

    [Fact]
    public void At_execs_the_program_with_the_argv0_given()
    {
        var c = new Command(ValueList.Of("my-name", "1"), false) { Executable = "/bin/sleep" };
        var plan = ExecPlanCompiler.Compile(Unit(), Ctx(), c);
        Assert.Equal("/bin/sleep", plan.Path);
        Assert.Equal(["my-name", "1"], plan.Argv);
    }

    [Fact]
    public void PassEnvironment_takes_the_supervisors_variable_and_UnsetEnvironment_removes_last()
    {
        var name = "SUPERVISOR_EXEC_TEST_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(name, "from-supervisor");
        try
        {
            var svc = Unit().Service with
            {
                PassEnvironment = ValueList.Of(name, "SUPERVISOR_EXEC_TEST_NOT_SET"),
                Environment = ValueList.Of(KeyValuePair.Create("KEEP", "x"), KeyValuePair.Create("GONE", "y"), KeyValuePair.Create("ONLY", "a")),
                UnsetEnvironment = ValueList.Of("GONE", "ONLY=b", "USER"),
            };
            var env = ExecPlanCompiler.Compile(Unit(svc), Ctx()).Environment;
            Assert.Contains($"{name}=from-supervisor", env);
            Assert.DoesNotContain(env, e => e.StartsWith("SUPERVISOR_EXEC_TEST_NOT_SET", StringComparison.Ordinal));
            Assert.Contains("KEEP=x", env);
            Assert.DoesNotContain(env, e => e.StartsWith("GONE=", StringComparison.Ordinal));
            // "ONLY=b" removes ONLY only while it is b; it is a.
            Assert.Contains("ONLY=a", env);
            Assert.DoesNotContain(env, e => e.StartsWith("USER=", StringComparison.Ordinal));
            // Environment overrides a passed variable.
            var over = ExecPlanCompiler.Compile(Unit(svc with { Environment = ValueList.Of(KeyValuePair.Create(name, "unit")) }), Ctx()).Environment;
            Assert.Contains($"{name}=unit", over);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void A_service_on_a_terminal_gets_TERM_as_systemd_sets_it_and_one_off_a_terminal_none()
    {
        static string? Term(ServiceSection s) =>
            ExecPlanCompiler.Compile(Unit(s), Ctx()).Environment.FirstOrDefault(e => e.StartsWith("TERM=", StringComparison.Ordinal));
        var svc = Unit().Service;
        Assert.Null(Term(svc));
        Assert.Equal("TERM=linux", Term(svc with { StandardInput = new StdInputSetting(StdInputKind.Tty), TTYPath = "/dev/tty9" }));
        Assert.Equal("TERM=vt220", Term(svc with { StandardInput = new StdInputSetting(StdInputKind.Tty), TTYPath = "/dev/ttyS0" }));
        // Environment= wins, as in systemd (the unit's variables come after the manager's).
        Assert.Equal("TERM=xterm", Term(svc with { TTYPath = "/dev/ttyS0", Environment = ValueList.Of(KeyValuePair.Create("TERM", "xterm")) }));
    }

    private static readonly Dictionary<string, string> Env = new()
    {
        ["A"] = "one two", ["Q"] = "-a 'b c' \"d e\"", ["EMPTY"] = "", ["X"] = "x",
    };

    [Theory]
    [InlineData(new[] { "$A" }, new[] { "one", "two" })]
    [InlineData(new[] { "${A}" }, new[] { "one two" })]
    [InlineData(new[] { "pre${X}post", "${X}${X}" }, new[] { "prexpost", "xx" })]
    [InlineData(new[] { "$$", "$$A", "a$$b" }, new[] { "$", "$A", "a$b" })]
    [InlineData(new[] { "$UNSET", "b", "$EMPTY" }, new[] { "b" })]
    [InlineData(new[] { "${UNSET}", "x${UNSET}y" }, new[] { "", "xy" })]
    [InlineData(new[] { "$Q" }, new[] { "-a", "b c", "d e" })]
    [InlineData(new[] { "a$X", "$X/y", "${X", "$" }, new[] { "a$X", "$X/y", "${X", "$" })]
    public void Expansion_follows_systemds_rules(string[] words, string[] expanded) =>
        Assert.Equal(expanded, CommandExpansion.Expand(words, Env));

    [Fact]
    public void Prepare_sets_MAINPID_and_expands_against_the_final_environment_unless_colon()
    {
        var plan = new ExecPlan { Path = "/bin/kill", Argv = ["/bin/kill", "-HUP", "$MAINPID", "${B}"], Environment = ["B=b c", "MAINPID=1"] };
        var c = new Command(ValueList.Of("/bin/kill", "-HUP", "$MAINPID", "${B}"), false);
        var ready = CommandExpansion.Prepare(plan, c, 4242);
        Assert.Equal(["/bin/kill", "-HUP", "4242", "b c"], ready.Argv);
        Assert.Equal(["B=b c", "MAINPID=4242"], ready.Environment);
        var literal = CommandExpansion.Prepare(plan, c with { Flags = ExecFlags.NoExpansion }, 4242);
        Assert.Equal(["/bin/kill", "-HUP", "$MAINPID", "${B}"], literal.Argv);
        // No main process: no MAINPID from the supervisor, and "$MAINPID" alone leaves no word.
        var none = CommandExpansion.Prepare(plan with { Environment = ["B=x"] }, c, null);
        Assert.Equal(["/bin/kill", "-HUP", "x"], none.Argv);
    }
}
