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
