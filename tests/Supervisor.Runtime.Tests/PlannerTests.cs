using Supervisor.Cgroups;
using Supervisor.Cgroups.Tests.Fake;
using Supervisor.Runtime.Planning;

namespace Supervisor.Runtime.Tests;

/// <summary>The one compile step: definition + slice chain + host facts → UnitPlan.</summary>
public sealed class PlannerTests
{
    private const string Slice = """
        [Resources]
        MemoryMax = "256M"
        TasksMax = 64
        """;

    private const string Worker = """
        [Service]
        Type = "notify"
        ExecStart = ["/bin/sleep", "1000"]
        ExecStartPre = [["/bin/true"], ["/nonexistent/prepare"]]
        ExecStop = [["/bin/kill", "-TERM", "1"]]
        WatchdogSec = "5s"
        Slice = "batch"

        [Resources]
        MemoryMax = "64M"
        """;

    private static UnitPlan Plan(TempDir dir, FakeCgroupFs fs, string unit)
    {
        var set = dir.Load();
        var planner = new UnitPlanner(fs.Driver(), "/run/test-notify");
        return planner.Plan(set.Units[unit].Definition, Wait.HostContext(), name => set.Units.GetValueOrDefault(name)?.Definition);
    }

    [Fact]
    public void The_plan_holds_the_unit_limits_and_the_slice_chain_limits()
    {
        using var dir = new TempDir();
        using var fs = FakeCgroupFs.HybridV1();
        dir.Write("batch.slice.toml", Slice);
        dir.Write("worker.toml", Worker);

        var plan = Plan(dir, fs, "worker");

        Assert.Equal(CgroupPath.ForUnit("worker", "batch"), plan.Cgroup);
        Assert.Equal(Limit.Of(64 * 1024 * 1024), plan.Limits.MemoryMax);
        var slice = Assert.Single(plan.Slices);
        Assert.Equal(Limit.Of(256 * 1024 * 1024), slice.Limits.MemoryMax);
        Assert.Equal(Limit.Of(64), plan.SliceLimits(slice.Path).TasksMax);
        Assert.All(plan.Main!.Exec!.CgroupJoins, j => Assert.Contains("batch.slice/worker.service/", j.File, StringComparison.Ordinal));
        Assert.NotEmpty(plan.Main.Exec.CgroupJoins);
    }

    [Fact]
    public void Only_the_main_command_gets_the_notify_socket_and_the_watchdog()
    {
        using var dir = new TempDir();
        using var fs = FakeCgroupFs.HybridV1();
        dir.Write("batch.slice.toml", Slice);
        dir.Write("worker.toml", Worker);

        var plan = Plan(dir, fs, "worker");

        Assert.Equal("/run/test-notify/worker", plan.NotifySocket);
        Assert.Equal(TimeSpan.FromSeconds(5), plan.Watchdog);
        Assert.Contains("WATCHDOG_USEC=5000000", plan.Main!.Exec!.Environment);
        Assert.Contains("NOTIFY_SOCKET=/run/test-notify/worker", plan.Main.Exec.Environment);
        var stop = plan.For(plan.Unit.Service.ExecStop[0]).ExecOrThrow;
        Assert.Equal(["/bin/kill", "-TERM", "1"], stop.Argv);
        Assert.DoesNotContain(stop.Environment, e => e.StartsWith("WATCHDOG_USEC=", StringComparison.Ordinal) || e.StartsWith("NOTIFY_SOCKET=", StringComparison.Ordinal));
    }

    [Fact]
    public void A_command_that_cannot_be_compiled_fails_when_it_runs_not_when_the_plan_is_made()
    {
        using var dir = new TempDir();
        using var fs = FakeCgroupFs.HybridV1();
        dir.Write("batch.slice.toml", Slice);
        dir.Write("worker.toml", Worker);

        var plan = Plan(dir, fs, "worker");

        Assert.NotNull(plan.Main!.Exec);
        Assert.NotNull(plan.For(plan.Unit.Service.ExecStartPre[0]).Exec);
        var broken = plan.For(plan.Unit.Service.ExecStartPre[1]);
        Assert.Null(broken.Exec);
        var e = Assert.ThrowsAny<Exception>(() => broken.ExecOrThrow);
        Assert.Contains("/nonexistent/prepare", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_simple_service_without_watchdog_has_no_notify_socket()
    {
        using var dir = new TempDir();
        using var fs = FakeCgroupFs.HybridV1();
        dir.Write("plain.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"1\"]\n");

        var plan = Plan(dir, fs, "plain");

        Assert.Null(plan.NotifySocket);
        Assert.Null(plan.Watchdog);
        Assert.DoesNotContain(plan.Main!.Exec!.Environment, e => e.StartsWith("NOTIFY_SOCKET=", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Slices, s => s.Declared is not null);
    }
}
