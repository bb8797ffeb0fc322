using Supervisor.Lsm.Tests.Support;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Lsm.Tests;

/// <summary>
/// AppArmorProfile= against a kernel that enforces AppArmor (the VM lane): the service really
/// runs under the profile, the profile really refuses what it denies, and the two ways a start
/// can go wrong say so. Checked from outside, the way an operator would: /proc/PID/attr/current,
/// and what the service itself could read.
/// </summary>
public sealed class AppArmorTests : IDisposable
{
    private const string Secret = "the secret line\n";
    private const string NotLoaded = "supervisor-test-not-loaded";

    public AppArmorTests()
    {
        AppArmorHost.Require();
        Directory.CreateDirectory(AppArmorHost.DeniedDirectory);
        File.WriteAllText(AppArmorHost.DeniedFile, Secret);
        File.WriteAllText(Path.Combine(AppArmorHost.DeniedDirectory, "public"), "a public line\n");
    }

    private static LsmLabel Profile(string name = AppArmorHost.TestProfile, bool skipIfUnavailable = false) =>
        new(LsmKind.AppArmor, name, skipIfUnavailable);

    [Fact]
    public void The_service_runs_under_its_profile_in_enforce_mode_as_seen_from_outside()
    {
        var plan = Service.Plan("/bin/sleep") with { Lsm = Profile() };
        using var service = new Service.Running(plan);

        Assert.Equal("supervisor-test-deny (enforce)", AppArmorHost.LabelOf(service.Pid));
        // The supervisor side stays unconfined: the label was armed for the exec only.
        Assert.Equal("unconfined", AppArmorHost.LabelOf(Environment.ProcessId));
        var line = IsolationCheck.Compare(plan, IsolationState.Read(service.Pid), service.Process.SkippedLsm).Single(l => l.Property == "LSM label");
        Assert.Equal(CheckResult.Match, line.Result);
        Assert.Equal("supervisor-test-deny (enforce)", line.Found);
    }

    [Fact]
    public void Without_a_profile_the_service_is_unconfined()
    {
        using var service = new Service.Running(Service.Plan("/bin/sleep"));

        Assert.Equal("unconfined", AppArmorHost.LabelOf(service.Pid));
    }

    [Fact]
    public void The_denied_read_is_refused_under_the_profile_and_succeeds_without_it()
    {
        var read = Service.Plan("/bin/cat", AppArmorHost.DeniedFile);

        var unconfined = Service.Run(read);
        var confined = Service.Run(read with { Lsm = Profile() });

        Assert.Equal((0, Secret), (unconfined.Exit.Code, unconfined.Output));
        Assert.Equal(1, confined.Exit.Code);
        Assert.Equal($"cat: {AppArmorHost.DeniedFile}: Permission denied\n", confined.Output);
    }

    [Fact]
    public void The_profile_refuses_only_what_it_denies()
    {
        // The file next to the secret, the dynamic loader and libc all stay readable: what the
        // previous test saw is the deny rule, not a profile that breaks everything.
        var result = Service.Run(Service.Plan("/bin/cat", Path.Combine(AppArmorHost.DeniedDirectory, "public")) with { Lsm = Profile() });

        Assert.Equal((0, "a public line\n"), (result.Exit.Code, result.Output));
    }

    [Fact]
    public void A_dash_prefixed_profile_is_applied_when_AppArmor_is_on()
    {
        // "-" means: skip when the LSM is off. Here it is on, so nothing is skipped.
        var plan = Service.Plan("/bin/sleep") with { Lsm = Profile(skipIfUnavailable: true) };
        using (var service = new Service.Running(plan))
        {
            Assert.Empty(service.Process.SkippedLsm);
            Assert.Equal("supervisor-test-deny (enforce)", AppArmorHost.LabelOf(service.Pid));
        }

        var read = Service.Run(Service.Plan("/bin/cat", AppArmorHost.DeniedFile) with { Lsm = Profile(skipIfUnavailable: true) });
        Assert.Equal(1, read.Exit.Code);
        Assert.Contains("Permission denied", read.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // "-" covers AppArmor being off, not a profile missing while it is on
    public void A_profile_that_is_not_loaded_fails_the_start_with_an_error_naming_it(bool skipIfUnavailable)
    {
        Assert.DoesNotContain(NotLoaded, AppArmorHost.LoadedProfiles());
        var plan = Service.Plan("/bin/true") with { Lsm = Profile(NotLoaded, skipIfUnavailable) };

        var e = Assert.Throws<SandboxSetupException>(() => Service.Run(plan));

        Assert.Equal(SetupStep.LsmExecLabel, e.Step);
        Assert.Equal(2, e.Errno); // ENOENT: the kernel has no profile by that name
        Assert.Equal($"web: cannot apply AppArmorProfile={NotLoaded}: No such file or directory", e.Message);
        Service.AssertNoChildren();
    }

    public void Dispose()
    {
        if (Directory.Exists(AppArmorHost.DeniedDirectory))
            Directory.Delete(AppArmorHost.DeniedDirectory, recursive: true);
    }
}
