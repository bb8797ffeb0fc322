using Supervisor.Linux;
using Supervisor.Units.Model;
using E = Supervisor.Supervision.UnitEvent;
using A = Supervisor.Supervision.UnitAction;

namespace Supervisor.Supervision.Tests;

/// <summary>Several ExecStart lines of a oneshot, and "-" on an ExecStart line, in the state machine.</summary>
public class ExecLinesMachineTests
{
    private static Command Cmd(string program, bool ignore = false) => new([program], ignore);

    private static ServiceSection Oneshot(params Command[] lines) =>
        new() { Type = ServiceType.Oneshot, ExecStart = lines[0], ExecStartMore = [.. lines.Skip(1)], RemainAfterExit = true };

    [Fact]
    public void A_oneshot_runs_its_ExecStart_lines_one_after_the_other_as_the_main_process()
    {
        var d = new Driver(Oneshot(Cmd("/bin/a"), Cmd("/bin/b"), Cmd("/bin/c")));
        d.Send(new E.Start());
        Assert.Contains(new A.SpawnMain(), d.Last);
        d.Send(new E.MainStarted(10)).Send(new E.MainExited(ExitInfo.Exited(0), false, 10));
        Assert.Equal([new A.SpawnMain(Cmd("/bin/b"))], d.Last);
        Assert.Equal((SubState.Start, (int?)null), (d.Sub, d.Runtime.MainPid));
        d.Send(new E.MainStarted(11)).Send(new E.MainExited(ExitInfo.Exited(0), false, 11));
        Assert.Equal([new A.SpawnMain(Cmd("/bin/c"))], d.Last);
        d.Send(new E.MainStarted(12)).Send(new E.MainExited(ExitInfo.Exited(0), false, 12));
        Assert.Equal(SubState.Exited, d.Sub);
        // A second start runs them from the first again.
        d.Send(new E.Stop()).Send(new E.CgroupEmpty()).Send(new E.Start());
        Assert.Contains(new A.SpawnMain(), d.Last);
        Assert.Equal(0, d.Runtime.MainIndex);
    }

    [Fact]
    public void A_failing_line_fails_the_start_and_the_rest_do_not_run()
    {
        var d = new Driver(Oneshot(Cmd("/bin/a"), Cmd("/bin/b"), Cmd("/bin/c")));
        d.Send(new E.Start()).Send(new E.MainStarted(10)).Send(new E.MainExited(ExitInfo.Exited(0), false, 10));
        d.Send(new E.MainStarted(11)).Send(new E.MainExited(ExitInfo.Exited(2), false, 11));
        Assert.DoesNotContain(d.Last, a => a is A.SpawnMain);
        d.Send(new E.CgroupEmpty());
        Assert.Equal((SubState.Failed, UnitResult.ExitCode), (d.Sub, d.Runtime.Result));
        Assert.DoesNotContain(d.Actions, a => a is A.SpawnMain { Command.Program: "/bin/c" });
    }

    [Fact]
    public void A_line_with_the_dash_prefix_may_fail()
    {
        var d = new Driver(Oneshot(Cmd("/bin/a", ignore: true), Cmd("/bin/b")));
        d.Send(new E.Start()).Send(new E.MainStarted(10)).Send(new E.MainExited(ExitInfo.Exited(1), false, 10));
        Assert.Equal([new A.SpawnMain(Cmd("/bin/b"))], d.Last);
        d.Send(new E.MainStarted(11)).Send(new E.MainExited(ExitInfo.Exited(0), false, 11));
        Assert.Equal((SubState.Exited, UnitResult.Success), (d.Sub, d.Runtime.Result));
    }

    [Fact]
    public void A_simple_service_whose_ExecStart_has_the_dash_prefix_ends_as_success_as_in_systemd()
    {
        var d = new Driver(new ServiceSection { ExecStart = Cmd("/bin/a", ignore: true), Restart = RestartPolicy.OnFailure });
        d.StartRunning().Crash(ExitInfo.Exited(3));
        Assert.Equal((SubState.Dead, UnitResult.Success), (d.Sub, d.Runtime.Result));
    }
}
