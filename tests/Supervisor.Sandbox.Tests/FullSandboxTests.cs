using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The "done when": a unit with the full sandbox of DESIGN §2 (minus AppArmor/SELinux,
/// unavailable here), written as TOML, loaded by the unit loader, compiled, started; inspect
/// shows every declared isolation in force, and the hostile checks are blocked.
/// </summary>
public class FullSandboxTests
{
    private static (ExecPlan Plan, TempDir Dir) Compile(string sandbox, string service = "")
    {
        var dir = new TempDir("/run"); // not under /tmp: PrivateTmp hides it
        Directory.CreateDirectory(dir.Combine("site"));
        File.WriteAllText(dir.Combine("web.toml"), $$"""
            [Service]
            ExecStart = ["{{Probe.Path}}", "sleep"]
            {{service}}

            [Sandbox]
            {{sandbox.Replace("$SITE", dir.Combine("site"))}}
            """);
        var set = UnitLoader.LoadDirectory(dir.Path);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return (ExecPlanCompiler.Compile(set.Units["web"].Definition, CompileContext.ForHost()), dir);
    }

    private const string Full = """
        Namespaces = ["pid", "net", "mount", "ipc", "uts", "cgroup"]
        Hostname = "site"
        CapabilityBoundingSet = ["CAP_NET_BIND_SERVICE"]
        AmbientCapabilities = ["CAP_NET_BIND_SERVICE"]
        NoNewPrivileges = true
        SystemCallFilter = ["@system-service", "~@privileged @resources"]
        SystemCallErrorNumber = "EPERM"
        SystemCallArchitectures = ["native"]
        ProtectSystem = "strict"
        ProtectHome = true
        PrivateTmp = true
        PrivateDevices = true
        ReadWritePaths = ["$SITE"]
        InaccessiblePaths = ["/root"]
        ProtectKernelTunables = true
        ProtectControlGroups = true
        ProtectProc = "invisible"
        """;

    [Fact]
    public void The_full_sandbox_starts_and_inspect_shows_every_declared_isolation()
    {
        Host.RequireRoot();
        var (plan, dir) = Compile(Full, "User = \"nobody\"\nGroup = \"nogroup\"");
        using (dir)
        using (var run = new Runner.Running(plan))
        {
            var state = IsolationState.Read(run.ServicePid);
            var lines = IsolationCheck.Compare(plan, state, run.Process.SkippedLsm);
            Assert.DoesNotContain(lines, l => l.Result == CheckResult.Mismatch);
            foreach (var kind in new[] { "pid", "net", "mnt", "ipc", "uts", "cgroup" })
                Assert.Equal(CheckResult.Match, lines.Single(l => l.Property == "namespace " + kind).Result);
            Assert.Equal(2, state.SeccompMode);
            Assert.True(state.NoNewPrivs);
            Assert.Equal(1UL << 10, state.CapEff);
            Assert.Equal("site", state.Hostname);
            Assert.Contains(state.Mounts, m => m.MountPoint == "/" && m.Options.Split(',').Contains("ro"));
        }
    }

    /// <summary>setting, attempt, result with the setting, result without it (the attempt must work without).</summary>
    public static TheoryData<string, string[], string, string> Attacks => new()
    {
        { "ProtectSystem = \"strict\"", ["write", "/usr/.sbx-probe-full"], "fail 30", "ok" },
        { "CapabilityBoundingSet = [\"CAP_NET_BIND_SERVICE\"]\nNamespaces = [\"mount\"]", ["mount", "/mnt"], "fail 1", "ok" },
        // swapoff reaching the kernel says ENOENT (2); the filter answers EPERM (1) first.
        { "SystemCallFilter = [\"@system-service\"]\nSystemCallErrorNumber = \"EPERM\"", ["swapoff", "/nonexistent-sbx"], "fail 1", "fail 2" },
        { "SystemCallFilter = [\"@system-service\"]\nSystemCallArchitectures = [\"native\"]", ["int80"], "signal 31", "ok" },
        { "InaccessiblePaths = [\"$SITE\"]", ["exists", "$SITE/data"], "fail 2", "ok" },
        { "ProtectHome = true", ["exists", "/root/.bashrc"], "fail 2", "ok" },
        { "PrivateDevices = true", ["exists", "/dev/kmsg"], "fail 2", "ok" },
        { "ProtectKernelTunables = true", ["openw", "/proc/sys/kernel/hostname"], "fail 30", "ok" },
        { "ProtectControlGroups = true", ["openw", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], "fail 30", "ok" },
        { "PrivateTmp = true", ["exists", "$HOSTTMP"], "fail 2", "ok" },
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Each_setting_from_a_unit_file_blocks_its_attack(string setting, string[] attack, string blocked, string unblocked)
    {
        Host.RequireRoot();
        var (plan, dir) = Compile(setting);
        using (dir)
        {
            File.WriteAllText(dir.Combine("site", "data"), "x");
            using var hostTmp = new TempDir(); // in the host's /tmp
            var argv = attack.Select(a => a.Replace("$SITE", dir.Combine("site")).Replace("$HOSTTMP", hostTmp.Path)).ToArray();
            var withSetting = Runner.Run(plan with { Argv = ["probe", .. argv] });
            Assert.Equal(blocked, Outcome(withSetting));
            var (bare, bareDir) = Compile(setting.Contains("Namespaces") ? "Namespaces = [\"mount\"]" : "");
            using (bareDir)
            {
                Assert.Equal(unblocked, Outcome(Runner.Run(bare with { Argv = ["probe", .. argv] })));
            }
        }
    }

    private static string Outcome(Runner.Result r) => r.Exit.Signal is { } sig ? $"signal {sig}" : r.Line;
}
