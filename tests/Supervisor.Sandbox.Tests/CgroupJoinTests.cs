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
    public void A_missing_cgroup_fails_the_start_before_anything_runs()
    {
        Host.RequireRoot();
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Probe.Plan("exit", "0") with { CgroupProcsFiles = ["/sys/fs/cgroup/memory/sbx-nonexistent/cgroup.procs"] }));
        Assert.Equal(SetupStep.CgroupJoin, e.Step);
        Assert.Contains("cannot join cgroup '/sys/fs/cgroup/memory/sbx-nonexistent/cgroup.procs'", e.Message);
    }
}
