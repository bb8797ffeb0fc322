using System.Text;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #13: every limit of the exec plan is a rule of the loader, so <c>check</c> refuses what
/// the helper would refuse (a unit with 4097 Environment entries passed check, then took the
/// daemon down with exit 70 when its plan was built). A unit at every limit makes a plan the
/// helper accepts; one more of anything is a located error.
/// </summary>
public class PlanLimitTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/true\"]\n";
    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };

    private static string Env(int count, int valueLength = 1) =>
        "Environment = { " + string.Join(", ", Enumerable.Range(0, count).Select(i => $"V{i:D4} = \"{new string('x', valueLength)}\"")) + " }\n";

    [Fact]
    public void An_environment_of_4097_entries_is_refused_by_check_where_it_is_written()
    {
        var d = Parse.SingleError(Svc + Env(4097));
        Assert.Equal($"svc.toml:3:15: svc: [Service] Environment: 4097 variables; a service's environment holds {Limits.PlanMaxEnv}, and " +
            $"{Limits.SupervisorEnvironmentReserve} of them are kept for the variables the supervisor sets, so at most {Limits.MaxEnvironmentEntries}", d.ToString());
        Assert.Equal(Limits.MaxEnvironmentEntries, Parse.Valid(Svc + Env(Limits.MaxEnvironmentEntries)).Service.Environment.Count);
        Parse.SingleError(Svc + Env(Limits.MaxEnvironmentEntries + 1));
    }

    [Fact]
    public void Drop_ins_that_together_pass_the_environment_limit_are_refused_at_the_last_one()
    {
        using var t = new TempUnits();
        t.Write("web.toml", Svc + Env(3000));
        var dropIn = t.Write("web.toml.d/50-more.toml", "[Service]\n" + Env(3000).Replace("V", "W", StringComparison.Ordinal));
        var d = Assert.Single(UnitLoader.LoadDirectory(t.Dir, NoOwnership).Diagnostics);
        Assert.StartsWith($"{dropIn}:2:15: web: [Service] Environment: 6000 variables;", d.ToString());
    }

    [Fact]
    public void An_argument_longer_than_the_kernel_passes_is_refused()
    {
        var d = Parse.SingleError($"[Service]\nExecStart = [\"/bin/echo\", \"{new string('a', Limits.MaxArgumentBytes + 1)}\"]\n");
        Assert.Equal($"svc.toml:2:13: svc: [Service] ExecStart: argument 2 is {Limits.MaxArgumentBytes + 1} bytes; the kernel passes at most {Limits.MaxArgumentBytes} bytes in one argument or variable", d.ToString());
        Parse.Valid($"[Service]\nExecStart = [\"/bin/echo\", \"{new string('a', Limits.MaxArgumentBytes)}\"]\n");
    }

    [Fact]
    public void A_command_or_environment_too_large_for_the_plan_is_refused()
    {
        var big = string.Join(", ", Enumerable.Repeat($"\"{new string('a', 100_000)}\"", 6));
        Assert.Contains("[Service] ExecStartPre: the arguments take 600016 bytes; at most 524288 bytes fit in a service's exec plan",
            Parse.SingleError(Svc + $"ExecStartPre = [[\"/bin/echo\", {big}]]\n").Message);
        Assert.Contains("[Service] Environment: the variables take", Parse.SingleError(Svc + Env(6, 100_000)).Message);
    }

    [Fact]
    public void Too_many_supplementary_groups_are_refused()
    {
        string Groups(int n) => "SupplementaryGroups = [" + string.Join(", ", Enumerable.Range(1000, n).Select(g => $"\"{g}\"")) + "]\n";
        Assert.Equal($"svc.toml:3:23: svc: [Service] SupplementaryGroups: 257 groups; a service is given at most {Limits.PlanMaxGroups}",
            Parse.SingleError(Svc + Groups(Limits.PlanMaxGroups + 1)).ToString());
        Parse.Valid(Svc + Groups(Limits.PlanMaxGroups));
    }

    [Fact]
    public void More_path_mounts_than_the_plan_takes_are_refused_at_the_list_that_passes_the_limit()
    {
        string List(string key, int n) => $"{key} = [" + string.Join(", ", Enumerable.Repeat("\"/usr\"", n)) + "]\n";
        var text = Svc + "[Sandbox]\n" + List("ReadOnlyPaths", 500) + List("ReadWritePaths", 400) + List("BindPaths", Limits.MaxPathMounts - 900 + 1);
        var d = Parse.SingleError(text);
        Assert.Equal("Sandbox", d.Section);
        Assert.Equal("BindPaths", d.Key);
        Assert.Equal($"[Sandbox] BindPaths: ReadOnlyPaths, ReadWritePaths, InaccessiblePaths, BindPaths, BindReadOnlyPaths, NoExecPaths, ExecPaths and TemporaryFileSystem have {Limits.MaxPathMounts + 1} entries together; " +
            $"a sandbox takes at most {Limits.MaxPathMounts} ({Limits.PlanMaxMounts} mount operations, {Limits.SandboxMountReserve} kept for its own)", d.Message);
    }

    [Fact]
    public void A_path_longer_than_PATH_MAX_is_refused_also_under_RootDirectory()
    {
        var longPath = "/" + string.Join('/', Enumerable.Repeat(new string('d', 200), 20)); // 4020 bytes
        Assert.Contains($"the path is {longPath.Length + 201} bytes long; a path is at most {Limits.MaxPathBytes} bytes (PATH_MAX)",
            Parse.SingleError(Svc + $"[Sandbox]\nReadOnlyPaths = [\"{longPath}/{new string('e', 200)}\"]\n").Message);
        var root = "/srv/" + new string('r', 95);
        var d = Parse.SingleError(Svc + $"[Sandbox]\nRootDirectory = \"{root}\"\nReadOnlyPaths = [\"{longPath}\"]\n");
        Assert.Equal("ReadOnlyPaths", d.Key);
        Assert.Contains($"inside RootDirectory '{root}' is a path of {longPath.Length + 100} bytes", d.Message);
    }

    [Fact]
    public void The_plan_takes_at_most_16_resource_limits_and_the_table_has_no_more_Limit_keys() =>
        Assert.True(Keys.KeyTable.All.Count(k => k.Name.StartsWith("Limit", StringComparison.Ordinal)) <= Limits.PlanMaxRlimits);

    /// <summary>
    /// A directory the sandbox does not replace: the test's own, unless the checkout itself is under
    /// /tmp or /var/tmp (a CI clone may be), then the home directory.
    /// </summary>
    private static string OutsideTmp()
    {
        var dir = AppContext.BaseDirectory;
        bool hidden = dir.StartsWith("/tmp/", StringComparison.Ordinal) || dir.StartsWith("/var/tmp/", StringComparison.Ordinal);
        return hidden ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : dir;
    }

    /// <summary>
    /// The derived numbers are right: a unit with the most arguments, environment, groups and
    /// path mounts check allows, and every mount the sandbox adds on its own, compiles to a plan
    /// that the helper protocol serializes (it refuses anything over PLAN_MAX_*).
    /// </summary>
    [Fact]
    public void A_unit_at_every_limit_compiles_to_a_plan_the_helper_accepts()
    {
        using var t = new TempUnits(under: OutsideTmp()); // not under /tmp, which PrivateTmp hides
        var deep = Path.Combine(t.Dir, new string('a', 255), new string('b', 527 - t.Dir.Length - 257));
        Directory.CreateDirectory(deep);
        Assert.Equal(527, Encoding.UTF8.GetByteCount(deep));
        var args = string.Join(", ", Enumerable.Repeat($"\"{new string('a', 127)}\"", Limits.MaxArguments - 1));
        t.Write("web.toml", $"[Service]\nExecStart = [\"/bin/true\", {args}]\n" +
            "SupplementaryGroups = [" + string.Join(", ", Enumerable.Range(1000, Limits.MaxSupplementaryGroups).Select(g => $"\"{g}\"")) + "]\n" +
            "[Sandbox]\nRootDirectory = \"/\"\nProtectSystem = \"full\"\nProtectHome = \"read-only\"\nPrivateDevices = true\nPrivateTmp = true\n" +
            "ProtectKernelTunables = true\nProtectControlGroups = true\nNamespaces = [\"pid\", \"uts\"]\nHostname = \"" + new string('h', 64) + "\"\n" +
            "SystemCallFilter = [\"@system-service\"]\n");
        t.Write("web.toml.d/10-env.toml", "[Service]\n" + Env(Limits.MaxEnvironmentEntries, 121));
        t.Write("web.toml.d/20-paths.toml", "[Sandbox]\nReadOnlyPaths = [" + string.Join(", ", Enumerable.Repeat($"\"{deep}\"", Limits.MaxPathMounts)) + "]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));

        var ctx = new CompileContext
        {
            Host = new HostFacts(40, CapabilityTable.HostMask(40), false, false),
            Users = UserDatabase.Parse("", ""),
            NotifySocket = "/run/supervisor/notify/web",
            CgroupProcsFiles = [.. Enumerable.Range(0, Limits.PlanMaxCgroups).Select(i => $"/sys/fs/cgroup/c{i}/supervisor/web.service/cgroup.procs")],
        };
        var plan = ExecPlanCompiler.Compile(set.Units["web"].Definition, ctx);
        Assert.Equal(Limits.MaxArguments, plan.Argv.Length);
        Assert.Equal(Limits.MaxEnvironmentEntries + 2, plan.Environment.Length); // PATH and NOTIFY_SOCKET
        Assert.Equal(Limits.MaxSupplementaryGroups, plan.Identity!.SupplementaryGroups.Length);
        Assert.InRange(plan.Mounts.Length - Limits.MaxPathMounts, 27, Limits.SandboxMountReserve);
        Assert.InRange(HelperProtocol.Serialize(plan).Length, 1, (int)Limits.PlanMaxBytes);
    }
}
