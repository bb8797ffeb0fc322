using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>Identity, the five capability sets across the uid switch, no_new_privs, securebits, rlimits, cwd, env.</summary>
public class PrivilegeTests
{
    private const int CapNetBindService = 10;
    private const int CapSysAdmin = 21;

    [Fact]
    public void Root_with_a_reduced_bounding_set_has_exactly_it_and_cannot_raise_a_dropped_capability()
    {
        Host.RequireRoot();
        var caps = Sandboxes.RootWithout(CapSysAdmin);
        var plan = Probe.Plan() with { Capabilities = caps };
        using (var run = new Runner.Running(plan))
        {
            var s = IsolationState.Read(run.ServicePid);
            Assert.Equal(caps.Bounding, s.CapBnd);
            Assert.Equal(caps.Permitted, s.CapPrm);
            Assert.Equal(caps.Effective, s.CapEff);
            Assert.All(IsolationCheck.Compare(plan, s).Where(l => l.Property.StartsWith("Cap", StringComparison.Ordinal)),
                l => Assert.Equal(CheckResult.Match, l.Result));
        }
        var raise = Probe.Plan("raisecap", CapSysAdmin.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(Runner.Run(raise).Ok, "root without the setting can raise it, so the test can fail");
        Assert.Equal("fail 1", Runner.Run(raise with { Capabilities = caps }).Line);
    }

    [Fact]
    public void Mount_fails_once_CAP_SYS_ADMIN_is_dropped()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        var plan = Probe.Plan("mount", dir.Path) with { Namespaces = NamespaceFlags.Mount };
        Assert.True(Runner.Run(plan).Ok, "mount works in a private mount namespace with CAP_SYS_ADMIN, so the test can fail");
        Assert.Equal("fail 1", Runner.Run(plan with { Capabilities = Sandboxes.RootWithout(CapSysAdmin) }).Line);
    }

    [Fact]
    public void Non_root_user_keeps_only_the_ambient_capabilities_across_the_uid_switch()
    {
        Host.RequireRoot();
        ulong amb = 1UL << CapNetBindService;
        var plan = Probe.Plan() with
        {
            Identity = new Identity(65534, 65534, [65534, 100]),
            Capabilities = new CapabilitySets(amb, amb, amb, amb, amb),
            NoNewPrivileges = true,
        };
        using var run = new Runner.Running(plan);
        var s = IsolationState.Read(run.ServicePid);
        Assert.Equal(65534u, s.Uid);
        Assert.Equal(65534u, s.Gid);
        var groups = File.ReadAllLines($"/proc/{run.ServicePid}/status").Single(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        Assert.Equal(["100", "65534"], groups[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Equal(amb, s.CapAmb);
        Assert.Equal(amb, s.CapEff);
        Assert.Equal(amb, s.CapPrm);
        Assert.Equal(amb, s.CapBnd);
        Assert.True(s.NoNewPrivs);
        Assert.DoesNotContain(IsolationCheck.Compare(plan, s), l => l.Result == CheckResult.Mismatch);
    }

    [Fact]
    public void Non_root_user_without_declared_capabilities_has_none()
    {
        Host.RequireRoot();
        using var run = new Runner.Running(Probe.Plan() with { Identity = new Identity(65534, 65534, []) });
        var s = IsolationState.Read(run.ServicePid);
        Assert.Equal(0UL, s.CapEff);
        Assert.Equal(0UL, s.CapPrm);
        Assert.Equal(0UL, s.CapAmb);
    }

    [Fact]
    public void No_new_privs_is_set_only_when_declared()
    {
        Host.RequireRoot();
        using (var run = new Runner.Running(Probe.Plan() with { NoNewPrivileges = true }))
            Assert.Contains("NoNewPrivs:\t1", File.ReadAllText($"/proc/{run.ServicePid}/status"));
        using (var run = new Runner.Running(Probe.Plan()))
            Assert.Contains("NoNewPrivs:\t0", File.ReadAllText($"/proc/{run.ServicePid}/status"));
    }

    [Fact]
    public void Securebits_are_set_as_declared()
    {
        Host.RequireRoot();
        // SECBIT_NOROOT | SECBIT_NOROOT_LOCKED: root gains no capabilities from execve.
        Assert.Equal("3", Runner.Run(Probe.Plan("securebits") with { SecureBits = 3 }).Line);
        Assert.Equal("0", Runner.Run(Probe.Plan("securebits")).Line);
    }

    [Fact]
    public void Rlimits_working_directory_and_environment_are_applied()
    {
        Host.RequireRoot();
        Assert.Equal("64 128", Runner.Run(Probe.Plan("rlimit-nofile") with { ResourceLimits = [new ResourceLimit(RlimitResource.Nofile, 64, 128)] }).Line);
        Assert.Equal("/usr", Runner.Run(Probe.Plan("cwd") with { WorkingDirectory = "/usr" }).Line);
        Assert.Equal("hello", Runner.Run(Probe.Plan("env", "GREETING") with { Environment = ["GREETING=hello"] }).Line);
    }

    [Fact]
    public void Cwd_that_does_not_exist_fails_at_the_chdir_step()
    {
        Host.RequireRoot();
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Probe.Plan("cwd") with { WorkingDirectory = "/nonexistent-dir" }));
        Assert.Equal(SetupStep.Chdir, e.Step);
        Assert.Contains("cannot change directory to '/nonexistent-dir': No such file or directory", e.Message);
        LauncherTests.AssertNoChildren();
    }

    [Fact]
    public void Unknown_capability_in_the_table_names_it()
    {
        Assert.Throws<UnknownCapabilityException>(() => CapabilityTable.Parse("CAP_FLY"));
        var e = Assert.Throws<UnknownCapabilityException>(() => CapabilityTable.EnsureHostSupports(40, 38));
        Assert.Contains("CAP_CHECKPOINT_RESTORE", e.Message);
    }
}
