using Microsoft.Extensions.Time.Testing;
using Supervisor.Linux;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Values;
using E = Supervisor.Supervision.UnitEvent;
using A = Supervisor.Supervision.UnitAction;

namespace Supervisor.Supervision.Tests;

/// <summary>The stop path's signals (systemd.kill(5)) and the watchdog abort, through the state machine.</summary>
public class LifecycleMachineTests
{
    private static readonly Command Sleep = new(["/bin/sleep", "1000"], false);

    [Fact]
    public void RestartKillSignal_stops_a_restart_and_KillSignal_every_other_stop()
    {
        var svc = new ServiceSection { ExecStart = Sleep, KillSignal = 2, RestartKillSignal = 10 };
        var restart = new Driver(svc).StartRunning().Send(new E.Restart());
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 10), restart.Last);
        Assert.DoesNotContain(new A.Signal(SignalTarget.ControlGroup, 2), restart.Last);

        var stop = new Driver(svc).StartRunning().Send(new E.Stop());
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 2), stop.Last);

        // Not set: a restart is stopped with KillSignal, as in systemd.
        var plain = new Driver(svc with { RestartKillSignal = null }).StartRunning().Send(new E.Restart());
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 2), plain.Last);
    }

    [Fact]
    public void SendSIGHUP_follows_the_stop_signal_to_the_same_processes()
    {
        var d = new Driver(new ServiceSection { ExecStart = Sleep, SendSIGHUP = true }).StartRunning().Send(new E.Stop());
        var signals = d.Last.OfType<A.Signal>().ToList();
        Assert.Equal([new A.Signal(SignalTarget.ControlGroup, 15), new A.Signal(SignalTarget.ControlGroup, 1)], signals);

        var mixed = new Driver(new ServiceSection { ExecStart = Sleep, SendSIGHUP = true, KillMode = KillMode.Mixed }).StartRunning().Send(new E.Stop());
        Assert.Equal([new A.Signal(SignalTarget.Main, 15), new A.Signal(SignalTarget.Main, 1)], mixed.Last.OfType<A.Signal>());

        var off = new Driver(new ServiceSection { ExecStart = Sleep }).StartRunning().Send(new E.Stop());
        Assert.DoesNotContain(off.Last.OfType<A.Signal>(), s => s.Signo == 1);
    }

    [Fact]
    public void FinalKillSignal_is_the_last_step_after_TimeoutStopSec()
    {
        var d = new Driver(new ServiceSection { ExecStart = Sleep, FinalKillSignal = 3, TimeoutStopSec = Duration.FromSeconds(5) })
            .StartRunning().Send(new E.Stop());
        Assert.Contains(new A.ArmTimer(TimerKind.Stop, TimeSpan.FromSeconds(5)), d.Last);
        d.Send(new E.TimerElapsed(TimerKind.Stop));
        Assert.Equal(SubState.StopSigkill, d.Sub);
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 3), d.Last);
        Assert.DoesNotContain(new A.Signal(SignalTarget.ControlGroup, 9), d.Last);
        Assert.Contains(d.Last.OfType<A.Log>(), l => l.Message.Contains("sending SIGQUIT", StringComparison.Ordinal));
    }

    [Fact]
    public void The_watchdog_sends_WatchdogSignal_and_waits_TimeoutAbortSec_before_FinalKillSignal()
    {
        var svc = new ServiceSection
        {
            ExecStart = Sleep, WatchdogSec = Duration.FromSeconds(2), WatchdogSignal = 12,
            TimeoutStopSec = Duration.FromSeconds(30), TimeoutAbortSec = Duration.FromSeconds(7),
        };
        var d = new Driver(svc).StartRunning().Send(new E.TimerElapsed(TimerKind.Watchdog));
        Assert.Equal(SubState.FinalSigterm, d.Sub);
        Assert.Contains(new A.Signal(SignalTarget.Main, 12), d.Last);
        Assert.Contains(new A.ArmTimer(TimerKind.Stop, TimeSpan.FromSeconds(7)), d.Last);
        d.Send(new E.TimerElapsed(TimerKind.Stop));
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 9), d.Last);
        Assert.Contains(d.Last.OfType<A.Log>(), l => l.Message.Contains("TimeoutAbortSec=7s", StringComparison.Ordinal));

        // Without TimeoutAbortSec the wait is TimeoutStopSec; the default signal is SIGABRT.
        var plain = new Driver(svc with { TimeoutAbortSec = null, WatchdogSignal = 6 }).StartRunning().Send(new E.TimerElapsed(TimerKind.Watchdog));
        Assert.Contains(new A.Signal(SignalTarget.Main, 6), plain.Last);
        Assert.Contains(new A.ArmTimer(TimerKind.Stop, TimeSpan.FromSeconds(30)), plain.Last);
    }

    [Fact]
    public void KillMode_mixed_sends_FinalKillSignal_to_what_remains_when_the_main_process_is_gone()
    {
        var d = new Driver(new ServiceSection { ExecStart = Sleep, KillMode = KillMode.Mixed, FinalKillSignal = 3, Restart = RestartPolicy.No })
            .StartRunning().Send(new E.MainExited(ExitInfo.Exited(0), false));
        Assert.Contains(new A.Signal(SignalTarget.ControlGroup, 3), d.Last);
    }
}

/// <summary>NotifyAccess, judged by the manager on each message's sender pid (SCM_CREDENTIALS).</summary>
public class NotifyAccessTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly UnitManager _manager;
    private RecordingHost _host = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-notifyaccess-test-" + Guid.NewGuid().ToString("N"));

    public NotifyAccessTests()
    {
        Directory.CreateDirectory(_dir);
        _manager = new UnitManager(_clock, sink => _host = new RecordingHost(sink));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private int StartNotifyUnit(string access, bool reportMain = true)
    {
        File.WriteAllText(Path.Combine(_dir, "n.toml"), $"[Service]\nType = \"notify\"\nExecStart = [\"/bin/sleep\", \"1000\"]\n{access}\n");
        var set = UnitLoader.LoadDirectory(_dir, new LoadOptions { RequireRootOwnership = false });
        _manager.ReconcileAsync(set);
        _manager.RunPending();
        int pid = _host.Pids["n"];
        if (reportMain)
        {
            _host.Sink.Post("n", new UnitEvent.MainStarted(pid));
            _manager.RunPending();
        }
        return pid;
    }

    private void Ready(int sender, bool fromControl = false)
    {
        _host.Sink.Post("n", new UnitEvent.Notified(sender, fromControl, [new UnitEvent.Ready()], ["status: up"]));
        _manager.RunPending();
    }

    private SubState Sub => _manager.Units["n"].Runtime.Sub;

    [Fact]
    public void With_NotifyAccess_main_a_child_cannot_declare_the_unit_ready_and_the_main_process_can()
    {
        int main = StartNotifyUnit("NotifyAccess = \"main\"");
        Ready(main + 1);
        Assert.Equal(SubState.Start, Sub);
        Assert.Contains(_host.Calls, c => c == $"log n: Got notification message from PID {main + 1}, but reception only permitted for main PID {main} (NotifyAccess=main); ignored");
        Assert.DoesNotContain("log n: status: up", _host.Calls);
        Ready(main);
        Assert.Equal(SubState.Running, Sub);
    }

    [Fact]
    public void Type_notify_without_NotifyAccess_means_main_as_in_systemd()
    {
        int main = StartNotifyUnit("");
        Ready(main + 1);
        Assert.Equal(SubState.Start, Sub);
    }

    [Fact]
    public void With_NotifyAccess_all_any_process_of_the_cgroup_may_declare_it_ready()
    {
        int main = StartNotifyUnit("NotifyAccess = \"all\"");
        Ready(main + 7);
        Assert.Equal(SubState.Running, Sub);
    }

    [Fact]
    public void With_NotifyAccess_exec_a_control_process_is_heard_and_another_is_not()
    {
        int main = StartNotifyUnit("NotifyAccess = \"exec\"");
        Ready(main + 3);
        Assert.Equal(SubState.Start, Sub);
        Ready(main + 4, fromControl: true);
        Assert.Equal(SubState.Running, Sub);
    }

    [Fact]
    public void NotifyAccess_none_drops_everything_even_from_the_main_process()
    {
        // Type=notify turns "none" into "main" (systemd 252); a simple service keeps it.
        File.WriteAllText(Path.Combine(_dir, "n.toml"), "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\nNotifyAccess = \"none\"\n");
        _manager.ReconcileAsync(UnitLoader.LoadDirectory(_dir, new LoadOptions { RequireRootOwnership = false }));
        _manager.RunPending();
        int main = _host.Pids["n"];
        _host.Sink.Post("n", new UnitEvent.MainStarted(main));
        _manager.RunPending();
        _host.Sink.Post("n", new UnitEvent.Notified(main, false, [], ["status: hello"]));
        _manager.RunPending();
        Assert.DoesNotContain("log n: status: hello", _host.Calls);
        Assert.Contains(_host.Calls, c => c.StartsWith($"log n: Got notification message from PID {main}, but reception is disabled", StringComparison.Ordinal));
    }

    [Fact]
    public void A_message_that_arrives_before_the_main_pid_is_known_waits_for_it()
    {
        int main = StartNotifyUnit("NotifyAccess = \"main\"", reportMain: false);
        Ready(main);
        Assert.Equal(SubState.Start, Sub);
        _host.Sink.Post("n", new UnitEvent.MainStarted(main));
        _manager.RunPending();
        Assert.Equal(SubState.Running, Sub);
    }

    [Fact]
    public void Dropped_messages_are_logged_once_per_interval()
    {
        int main = StartNotifyUnit("");
        for (int i = 0; i < 5; i++) Ready(main + 1);
        Assert.Single(_host.Calls, c => c.Contains("Got notification message", StringComparison.Ordinal));
        _clock.Advance(TimeSpan.FromSeconds(11));
        Ready(main + 1);
        Assert.Contains(_host.Calls, c => c.EndsWith("; ignored (4 more dropped since the last such line)", StringComparison.Ordinal));
    }
}
