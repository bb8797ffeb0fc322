using Supervisor.Sandbox.Compiler;
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
            var plan = Probe.Plan() with { CgroupJoins = [CgroupJoinPlanner.For(Path.Combine(dir, "cgroup.procs"))], Namespaces = NamespaceFlags.Pid };
            // v1: "0" to the tasks file (the single-thread migration that skips the global lock).
            Assert.Equal(new CgroupJoin(Path.Combine(dir, "tasks"), CgroupJoinWrite.CallingThread), plan.CgroupJoins.Single());
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
            var plan = Probe.Plan() with { CgroupJoins = [CgroupJoinPlanner.For(Path.Combine(dir, "cgroup.procs"))] };
            Assert.Equal(new CgroupJoin(Path.Combine(dir, "cgroup.procs"), CgroupJoinWrite.ProcessId), plan.CgroupJoins.Single());
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
        var joins = CgroupJoinPlanner.For(["/sys/fs/cgroup/memory/sbx-nonexistent/cgroup.procs"]);
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Probe.Plan("exit", "0") with { CgroupJoins = joins }));
        Assert.Equal(SetupStep.CgroupJoin, e.Step);
        Assert.Contains("cannot join cgroup '/sys/fs/cgroup/memory/sbx-nonexistent'", e.Message);
        Assert.Contains("No such file or directory", e.Message);
    }

    [Fact]
    public void Which_file_and_what_to_write_is_chosen_from_the_hierarchy_the_cgroup_is_in()
    {
        // A fake cgroupfs: a v1 hierarchy has a tasks file in every directory, v2 none.
        using var root = new TempDir();
        var v1 = Directory.CreateDirectory(root.Combine("memory", "web")).FullName;
        File.WriteAllText(Path.Combine(v1, "tasks"), "");
        File.WriteAllText(root.Combine("memory", "tasks"), "");
        var v2 = Directory.CreateDirectory(root.Combine("unified", "web")).FullName;

        Assert.Equal(new CgroupJoin(Path.Combine(v1, "tasks"), CgroupJoinWrite.CallingThread), CgroupJoinPlanner.For(Path.Combine(v1, "cgroup.procs")));
        Assert.Equal(new CgroupJoin(Path.Combine(v2, "cgroup.procs"), CgroupJoinWrite.ProcessId), CgroupJoinPlanner.For(Path.Combine(v2, "cgroup.procs")));
        // A cgroup the driver has not created yet is in the hierarchy of its nearest existing parent.
        Assert.Equal(new CgroupJoin(root.Combine("memory", "new", "a", "tasks"), CgroupJoinWrite.CallingThread),
            CgroupJoinPlanner.For(root.Combine("memory", "new", "a", "cgroup.procs")));
        Assert.Equal(CgroupJoinWrite.ProcessId, CgroupJoinPlanner.For(root.Combine("unified", "new", "cgroup.procs")).Write);
        // Only cgroup.procs has a tasks twin; any other file is written as named.
        Assert.Equal(new CgroupJoin(Path.Combine(v1, "cgroup.threads"), CgroupJoinWrite.ProcessId), CgroupJoinPlanner.For(Path.Combine(v1, "cgroup.threads")));
    }
}
