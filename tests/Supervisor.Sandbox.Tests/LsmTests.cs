using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Launch;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// This host has neither AppArmor nor SELinux, so the fail-closed path is tested for real;
/// actual enforcement is the VM lane's job.
/// </summary>
public class LsmTests
{
    private static void RequireNoLsm(LsmKind kind)
    {
        bool on = kind == LsmKind.AppArmor
            ? File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").StartsWith('Y')
            : File.Exists("/sys/fs/selinux/enforce");
        if (on)
            Assert.Skip($"{kind} is enabled on this host; the fail-closed path needs it off (enforcement is tested in the VM lane)");
    }

    [Theory]
    [InlineData(LsmKind.AppArmor, "AppArmorProfile=supervisor-site", "AppArmor")]
    [InlineData(LsmKind.SELinux, "SELinuxContext=system_u:system_r:httpd_t:s0", "SELinux")]
    public void A_label_for_a_disabled_LSM_fails_the_start_with_a_message_that_says_so(LsmKind kind, string setting, string name)
    {
        Host.RequireRoot();
        RequireNoLsm(kind);
        var value = setting[(setting.IndexOf('=') + 1)..];
        var plan = Probe.Plan("exit", "0") with { Lsm = new LsmLabel(kind, value, SkipIfUnavailable: false) };
        var e = Assert.Throws<SandboxSetupException>(() => SandboxLauncher.Start(plan, "web", Host.HelperPath));
        Assert.Equal(SetupStep.LsmNotEnabled, e.Step);
        Assert.Equal($"web: cannot apply {setting}: {name} is not enabled on this host", e.Message);
        LauncherTests.AssertNoChildren();
    }

    [Fact]
    public void A_label_marked_skip_if_unavailable_starts_and_reports_the_skip()
    {
        Host.RequireRoot();
        RequireNoLsm(LsmKind.AppArmor);
        var plan = Probe.Plan() with { Lsm = new LsmLabel(LsmKind.AppArmor, "supervisor-site", SkipIfUnavailable: true) };
        using var run = new Runner.Running(plan);
        Assert.Equal([LsmKind.AppArmor], run.Process.SkippedLsm);
        var line = IsolationCheck.Compare(plan, IsolationState.Read(run.ServicePid), run.Process.SkippedLsm).Single(l => l.Property == "LSM label");
        Assert.Equal(CheckResult.Skipped, line.Result);
        Assert.Contains("AppArmor is not enabled", line.Found);
    }
}

/// <summary>What lsm.c writes where, with its /proc and /sys paths redirected to a test directory.</summary>
public class LsmAttrTests
{
    private static string Build(TempDir dir)
    {
        var root = Host.RepoRoot();
        var output = dir.Combine("lsm_test");
        string Q(string s) => $"\"{s}\"";
        Host.Run("gcc", "-Wall", "-Wextra", "-Werror", "-I", Path.Combine(root, "src", "helper"),
            $"-DLSM_ATTR_DIR={Q(dir.Combine("attr"))}",
            $"-DLSM_APPARMOR_ENABLED={Q(dir.Combine("apparmor-enabled"))}",
            $"-DLSM_SELINUX_ENFORCE={Q(dir.Combine("selinux-enforce"))}",
            "-o", output, Path.Combine(root, "src", "helper", "lsm.c"), Path.Combine(root, "src", "helper", "fileio.c"), Path.Combine(root, "tests", "Supervisor.Sandbox.Tests", "probe", "lsm_test.c"));
        Directory.CreateDirectory(dir.Combine("attr"));
        return output;
    }

    [Fact]
    public void AppArmor_writes_exec_profile_to_the_per_LSM_file_and_falls_back_to_attr_exec()
    {
        using var dir = new TempDir();
        var bin = Build(dir);
        Directory.CreateDirectory(dir.Combine("attr", "apparmor"));
        File.WriteAllText(dir.Combine("attr", "apparmor", "exec"), "");
        File.WriteAllText(dir.Combine("attr", "exec"), "");
        Assert.Equal("ok", Host.Run(bin, "set", "1", "supervisor-site").Trim());
        Assert.Equal("exec supervisor-site", File.ReadAllText(dir.Combine("attr", "apparmor", "exec")));
        Assert.Equal("", File.ReadAllText(dir.Combine("attr", "exec")));

        // A kernel without LSM stacking has only attr/exec.
        Directory.Delete(dir.Combine("attr", "apparmor"), true);
        Assert.Equal("ok", Host.Run(bin, "set", "1", "supervisor-site").Trim());
        Assert.Equal("exec supervisor-site", File.ReadAllText(dir.Combine("attr", "exec")));
    }

    [Fact]
    public void SELinux_writes_the_bare_context_to_attr_exec()
    {
        using var dir = new TempDir();
        var bin = Build(dir);
        File.WriteAllText(dir.Combine("attr", "exec"), "");
        Assert.Equal("ok", Host.Run(bin, "set", "2", "system_u:system_r:httpd_t:s0").Trim());
        Assert.Equal("system_u:system_r:httpd_t:s0", File.ReadAllText(dir.Combine("attr", "exec")));
    }

    [Fact]
    public void Enabled_checks_follow_the_module_parameter_and_selinuxfs()
    {
        using var dir = new TempDir();
        var bin = Build(dir);
        Assert.Equal("0", Host.Run(bin, "enabled", "1").Trim());
        Assert.Equal("0", Host.Run(bin, "enabled", "2").Trim());
        File.WriteAllText(dir.Combine("apparmor-enabled"), "Y\n");
        File.WriteAllText(dir.Combine("selinux-enforce"), "1");
        Assert.Equal("1", Host.Run(bin, "enabled", "1").Trim());
        Assert.Equal("1", Host.Run(bin, "enabled", "2").Trim());
        File.WriteAllText(dir.Combine("apparmor-enabled"), "N\n");
        Assert.Equal("0", Host.Run(bin, "enabled", "1").Trim());
    }
}
