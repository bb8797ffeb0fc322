using System.Text;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using static Supervisor.Sandbox.LandlockAccess;

namespace Supervisor.Sandbox.Tests;

/// <summary>The Landlock keys into a ruleset for a given ABI, and the fail-closed rule, without running anything.</summary>
public class LandlockCompilerTests
{
    private static UnitDefinition Unit(string sandbox)
    {
        var text = $"[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\n{sandbox}\n";
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "web.toml", "web", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("web", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return parsed!.Definition;
    }

    private static CompileContext Abi(int abi)
    {
        var ctx = CompileContext.ForHost();
        return ctx with { Host = ctx.Host with { LandlockAbi = abi, LandlockUnavailable = "Landlock is not enabled on this kernel (test)" } };
    }

    private static ExecPlan Compile(string sandbox, int abi) => ExecPlanCompiler.Compile(Unit(sandbox), Abi(abi));

    [Fact]
    public void Handled_filesystem_rights_are_those_the_abi_knows()
    {
        Assert.Equal(Abi1Fs, Compile("LandlockReadOnlyPaths = [\"/usr\"]", 1).Landlock!.HandledFs);
        Assert.Equal(Abi1Fs | Refer | Truncate, Compile("LandlockReadOnlyPaths = [\"/usr\"]", 4).Landlock!.HandledFs);
        Assert.Equal(Abi1Fs | Refer | Truncate | IoctlDev, Compile("LandlockReadOnlyPaths = [\"/usr\"]", 7).Landlock!.HandledFs);
    }

    [Fact]
    public void Each_path_list_allows_its_rights()
    {
        var r = Compile("LandlockReadOnlyPaths = [\"/etc\"]\nLandlockExecutePaths = [\"/usr\"]\nLandlockReadWritePaths = [\"-/var/lib/web\"]", 7).Landlock!;
        Assert.Equal(
            [new LandlockPathRule("/etc", ReadFile | ReadDir, false), new LandlockPathRule("/usr", Execute | ReadFile | ReadDir, false),
             new LandlockPathRule("/var/lib/web", r.HandledFs, true)],
            r.Paths);
        Assert.Equal(0UL, r.HandledNet);
        Assert.Empty(r.Ports);
    }

    [Fact]
    public void Ports_in_both_lists_get_both_rights_and_an_empty_list_handles_its_right()
    {
        var r = Compile("LandlockBindPorts = [8080, 443]\nLandlockConnectPorts = [443]", 4).Landlock!;
        Assert.Equal(0UL, r.HandledFs);
        Assert.Equal(BindTcp | ConnectTcp, r.HandledNet);
        Assert.Equal([new LandlockPortRule(443, BindTcp | ConnectTcp), new LandlockPortRule(8080, BindTcp)], r.Ports);
        var none = Compile("LandlockBindPorts = []", 4).Landlock!;
        Assert.Equal(BindTcp, none.HandledNet);
        Assert.Empty(none.Ports);
    }

    [Fact]
    public void A_ruleset_sets_no_new_privs_and_no_keys_set_nothing()
    {
        Assert.True(Compile("LandlockBindPorts = [80]", 4).NoNewPrivileges);
        var bare = Compile("", 7);
        Assert.Null(bare.Landlock);
        Assert.False(bare.NoNewPrivileges);
    }

    [Fact]
    public void Without_landlock_a_unit_asking_for_it_fails_closed()
    {
        var e = Assert.Throws<PlanCompileException>(() => Compile("LandlockReadOnlyPaths = [\"/usr\"]", 0));
        Assert.Equal("web: LandlockReadOnlyPaths: Landlock is not enabled on this kernel (test); the unit is not started without it " +
            "(LandlockCompatibility = \"best-effort\" would skip what the kernel lacks)", e.Message);
        Assert.Null(Compile("LandlockReadOnlyPaths = [\"/usr\"]\nLandlockCompatibility = \"best-effort\"", 0).Landlock);
    }

    [Fact]
    public void Ports_below_abi_4_fail_closed_or_are_skipped_with_best_effort()
    {
        var e = Assert.Throws<PlanCompileException>(() => Compile("LandlockReadOnlyPaths = [\"/usr\"]\nLandlockBindPorts = [80]", 3));
        Assert.Contains("LandlockBindPorts: TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI 3", e.Message);
        var r = Compile("LandlockReadOnlyPaths = [\"/usr\"]\nLandlockBindPorts = [80]\nLandlockCompatibility = \"best-effort\"", 3).Landlock!;
        Assert.Equal(0UL, r.HandledNet);
        Assert.Empty(r.Ports);
        Assert.NotEqual(0UL, r.HandledFs);
        Assert.Equal(["LandlockBindPorts: TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI 3"], r.Skipped);
    }

    [Fact]
    public void Scopes_below_abi_6_fail_closed()
    {
        var e = Assert.Throws<PlanCompileException>(() => Compile("LandlockScope = [\"signal\"]", 5));
        Assert.Contains("LandlockScope: scopes need Landlock ABI 6", e.Message);
        Assert.Equal(ScopeSignal, Compile("LandlockScope = [\"signal\"]", 6).Landlock!.Scoped);
    }

    [Fact]
    public void A_full_privileges_command_gets_no_ruleset()
    {
        var unit = Unit("LandlockReadOnlyPaths = [\"/usr\"]");
        var plus = new Command(["/bin/true"], false) { Flags = ExecFlags.FullPrivileges };
        Assert.Null(ExecPlanCompiler.Compile(unit, Abi(7), plus).Landlock);
    }
}
