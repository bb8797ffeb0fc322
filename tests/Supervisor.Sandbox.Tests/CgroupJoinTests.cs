using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

public class CgroupJoinTests
{
    [Fact]
    public void The_service_runs_in_the_declared_v1_cgroup()
    {
        Host.RequireRoot();
        const string Hierarchy = "/sys/fs/cgroup/memory";
        if (!File.Exists(Path.Combine(Hierarchy, "cgroup.procs")))
            Assert.Skip("needs the cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
        var name = "sbx-test-" + Guid.NewGuid().ToString("N")[..8];
        var dir = Path.Combine(Hierarchy, name);
        Directory.CreateDirectory(dir);
        try
        {
            var plan = Probe.Plan() with { CgroupProcsFiles = [Path.Combine(dir, "cgroup.procs")], Namespaces = NamespaceFlags.Pid };
            using (var run = new Runner.Running(plan))
            {
                Assert.Contains(File.ReadAllLines($"/proc/{run.ServicePid}/cgroup"), l => l.EndsWith(":memory:/" + name, StringComparison.Ordinal));
                // The namespace's init is in it too: it was joined before anything else happened.
                Assert.Contains(run.Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllLines(Path.Combine(dir, "cgroup.procs")));
                Assert.Equal(CheckResult.Match, IsolationCheck.Compare(plan, IsolationState.Read(run.ServicePid)).Single(l => l.Property == "cgroup").Result);
            }
            using (var run = new Runner.Running(Probe.Plan()))
                Assert.DoesNotContain(File.ReadAllLines($"/proc/{run.ServicePid}/cgroup"), l => l.EndsWith(":memory:/" + name, StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void The_service_runs_in_the_declared_v2_cgroup()
    {
        Host.RequireRoot();
        // This host's cgroup2 mount is the empty "unified" hierarchy: enough to join, no controllers.
        const string Unified = "/sys/fs/cgroup/unified";
        if (!File.Exists(Path.Combine(Unified, "cgroup.procs")))
            Assert.Skip("needs a cgroup2 mount at /sys/fs/cgroup/unified");
        var name = "sbx-test-" + Guid.NewGuid().ToString("N")[..8];
        var dir = Path.Combine(Unified, name);
        Directory.CreateDirectory(dir);
        try
        {
            Assert.False(File.Exists(Path.Combine(dir, "tasks")), "v2 has no tasks file: the helper must use cgroup.procs");
            var plan = Probe.Plan() with { CgroupProcsFiles = [Path.Combine(dir, "cgroup.procs")] };
            using var run = new Runner.Running(plan);
            Assert.Contains("0::/" + name, File.ReadAllLines($"/proc/{run.ServicePid}/cgroup"));
            Assert.Equal(CheckResult.Match, IsolationCheck.Compare(plan, IsolationState.Read(run.ServicePid)).Single(l => l.Property == "cgroup").Result);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void A_missing_cgroup_fails_the_start_before_anything_runs()
    {
        Host.RequireRoot();
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Probe.Plan("exit", "0") with { CgroupProcsFiles = ["/sys/fs/cgroup/memory/sbx-nonexistent/cgroup.procs"] }));
        Assert.Equal(SetupStep.CgroupJoin, e.Step);
        Assert.Contains("cannot join cgroup '/sys/fs/cgroup/memory/sbx-nonexistent/cgroup.procs'", e.Message);
    }
}
