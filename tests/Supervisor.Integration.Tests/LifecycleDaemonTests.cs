namespace Supervisor.Integration.Tests;

/// <summary>
/// The stop and kill keys, NotifyAccess and exit status names against a real daemon and real
/// processes: each service writes down what it received, and the test reads it from outside.
/// </summary>
public class LifecycleDaemonTests
{
    private static string Said(Daemon d, string file) => File.Exists(Path.Combine(d.Root, file)) ? File.ReadAllText(Path.Combine(d.Root, file)) : "";

    [Fact]
    public async Task RestartKillSignal_reaches_the_service_on_restart_and_KillSignal_on_stop()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var got = Path.Combine(d.Root, "got");
        d.WriteUnit("sig", $$"""
            [Service]
            RestartKillSignal = "SIGUSR1"
            ExecStart = ["/bin/sh", "-c", "trap 'echo USR1 >> {{got}}; exit 0' USR1; trap 'echo TERM >> {{got}}; exit 0' TERM; echo up >> {{got}}; while :; do sleep 0.1; done"]
            """);
        d.Start();
        d.WaitFor(() => Said(d, "got") == "up\n", "sig to start");
        Assert.Equal(0, d.Cli("restart", "sig").Code);
        d.WaitFor(() => Said(d, "got") == "up\nUSR1\nup\n", "the restart, with SIGUSR1");
        Assert.Equal(0, d.Cli("stop", "sig").Code);
        d.WaitFor(() => Said(d, "got") == "up\nUSR1\nup\nTERM\n", "the stop, with SIGTERM");
        d.WaitForState("sig", "inactive");
    }

    [Fact]
    public async Task FinalKillSignal_ends_a_service_that_ignores_SIGTERM_once_TimeoutStopSec_runs_out()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var got = Path.Combine(d.Root, "got");
        // SIGTERM is ignored (and the ignoring inherited by sleep); SIGQUIT is the last step.
        d.WriteUnit("stubborn", $$"""
            [Service]
            TimeoutStopSec = "1s"
            FinalKillSignal = "SIGQUIT"
            ExecStart = ["/bin/sh", "-c", "trap '' TERM; trap 'echo QUIT >> {{got}}; exit 0' QUIT; echo up >> {{got}}; while :; do sleep 0.1; done"]
            """);
        d.Start();
        d.WaitFor(() => Said(d, "got") == "up\n", "stubborn to start");
        d.Cli("stop", "stubborn");
        d.WaitFor(() => Said(d, "got") == "up\nQUIT\n", "SIGQUIT after the stop timeout");
        d.WaitFor(() => d.Prop("stubborn", "ActiveState") is "inactive" or "failed", "stubborn to be down");
        Assert.Contains("sending SIGQUIT to what remains", d.Cli("logs", "stubborn", "--state-dir", d.State).Out);
    }

    [Fact]
    public async Task SendSIGHUP_follows_the_stop_signal()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var got = Path.Combine(d.Root, "got");
        // It shrugs at SIGTERM and ends only on SIGHUP; the stop timeout is long, so an end within
        // it can only come from the SIGHUP.
        d.WriteUnit("shell", $$"""
            [Service]
            SendSIGHUP = true
            TimeoutStopSec = "5min"
            ExecStart = ["/bin/sh", "-c", "trap 'echo TERM >> {{got}}' TERM; trap 'echo HUP >> {{got}}; exit 0' HUP; echo up >> {{got}}; while :; do sleep 0.1; done"]
            """);
        d.Start();
        d.WaitFor(() => Said(d, "got") == "up\n", "shell to start");
        Assert.Equal(0, d.Cli("stop", "shell").Code);
        d.WaitForState("shell", "inactive");
        Assert.Contains("HUP\n", Said(d, "got"));
    }

    [Fact]
    public async Task TimeoutSec_limits_both_the_start_and_the_stop()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("never", "[Service]\nType = \"notify\"\nTimeoutSec = \"1s\"\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.WriteUnit("deaf", "[Service]\nTimeoutSec = \"1s\"\nExecStart = [\"/bin/sh\", \"-c\", \"trap '' TERM; while :; do sleep 0.1; done\"]\n");
        d.Start();
        d.WaitFor(() => d.Log.Contains("start did not complete within TimeoutStartSec=1s", StringComparison.Ordinal), "never's start timeout");
        d.WaitForState("deaf", "active", "running");
        d.Cli("stop", "deaf");
        d.WaitFor(() => d.Prop("deaf", "ActiveState") is "inactive" or "failed", "deaf to be killed");
        Assert.Contains("stop timed out after TimeoutStopSec=1s", d.Cli("logs", "deaf", "--state-dir", d.State).Out);
    }

    [Fact]
    public async Task SuccessExitStatus_DATAERR_makes_exit_65_a_success()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("ok65", "[Service]\nSuccessExitStatus = [\"DATAERR\"]\nExecStart = [\"/bin/sh\", \"-c\", \"exit 65\"]\n");
        d.WriteUnit("bad65", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"exit 65\"]\n");
        d.Start();
        d.WaitFor(() => d.Prop("bad65", "ActiveState") == "failed", "bad65 to fail");
        d.WaitFor(() => d.Status("ok65") is var s && s.GetProperty("ActiveState").GetString() == "inactive" && s.GetProperty("Result").GetString() == "success", "ok65 to end cleanly");
        Assert.Contains("SuccessExitStatus = [\"DATAERR\"]", d.Cli("show", "ok65", "--runtime-dir", d.Runtime).Out);
    }

    [Fact]
    public async Task NotifyAccess_main_ignores_READY_from_a_child_until_the_main_process_says_it()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/systemd-notify")) Assert.Skip("systemd-notify is not installed");
        await using var d = new Daemon();
        var flag = Path.Combine(d.Root, "go");
        // The inner sh execs systemd-notify with its own pid as sender: a child of the main process.
        // Then the main process speaks for itself (systemd-notify sends its parent's pid, as root may).
        d.WriteUnit("n", $$"""
            [Service]
            Type = "notify"
            NotifyAccess = "main"
            ExecStart = ["/bin/sh", "-c", "sh -c 'exec systemd-notify --ready --pid=$$$$'; while [ ! -e {{flag}} ]; do sleep 0.1; done; systemd-notify --ready; exec sleep 1000"]
            """);
        d.WriteUnit("a", """
            [Service]
            Type = "notify"
            NotifyAccess = "all"
            ExecStart = ["/bin/sh", "-c", "sh -c 'exec systemd-notify --ready --pid=$$$$'; exec sleep 1000"]
            """);
        d.Start();
        d.WaitForState("a", "active", "running");
        d.WaitFor(() => d.Cli("logs", "n", "--state-dir", d.State).Out.Contains("but reception only permitted for main PID", StringComparison.Ordinal), "the child's message to be refused");
        Assert.Equal("activating", d.Prop("n", "ActiveState"));
        File.WriteAllText(flag, "");
        d.WaitForState("n", "active", "running");
    }
}

/// <summary>A unit started a moment before its supervisor was killed is adopted, not killed, by the next one.</summary>
public class AdoptionRaceTests
{
    [Fact]
    public async Task A_unit_started_just_before_kill_9_is_adopted_with_the_same_main_pid()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("late", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("late", "active", "running");
        Assert.Equal(0, d.Cli("stop", "late").Code);
        d.WaitForState("late", "inactive");
        // Start, and kill -9 the supervisor the moment the start is answered.
        Assert.Equal(0, d.Cli("start", "late").Code);
        d.Signal("KILL");
        d.WaitForExit();
        var pid = File.ReadAllLines(Path.Combine(d.CgroupDir("late"), "cgroup.procs")).Single();

        d.Start();
        d.WaitForState("late", "active", "running");
        Assert.Equal(pid, d.Prop("late", "MainPID"));
        Assert.Contains("adopted main process", d.Cli("logs", "late", "--state-dir", d.State).Out);
    }
}

/// <summary>Type=forking: the PIDFile's number is checked against the unit's own processes before it becomes the main PID.</summary>
public class ForkingPidFileTests
{
    [Fact]
    public async Task A_PIDFile_of_a_pid_namespace_is_never_taken_as_a_host_pid()
    {
        // The reproduction: the file holds "3" as the namespace sees it. Taken as a host pid
        // it showed a kernel thread as Main PID (and a stop would have signalled it).
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var pidFile = Path.Combine(d.Root, "forkns.pid");
        d.WriteUnit("forkns", $$"""
            [Service]
            Type = "forking"
            PIDFile = "{{pidFile}}"
            ExecStart = ["/bin/sh", "-c", "/bin/sleep 1000 & echo $! > {{pidFile}}"]

            [Sandbox]
            Namespaces = ["pid"]
            """);
        d.Start();
        d.WaitFor(() => d.Prop("forkns", "ActiveState") is "active" or "failed", "forkns to settle");
        var status = d.Status("forkns");
        if (status.GetProperty("ActiveState").GetString() == "active")
        {
            // The daemon lived on in its namespace: its main pid is its host pid, a process of the unit.
            int main = d.MainPid("forkns");
            Assert.Contains(main.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllLines(Path.Combine(d.CgroupDir("forkns"), "cgroup.procs")));
            Assert.Equal("sleep", File.ReadAllText($"/proc/{main}/comm").Trim());
        }
        else
        {
            Assert.Contains("of the unit's pid namespace, and no process of the unit has that PID there", d.Cli("logs", "forkns", "--state-dir", d.State).Out);
        }
    }

    [Fact]
    public async Task A_PIDFile_not_owned_by_root_naming_a_process_outside_the_unit_is_refused()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var dir = Path.Combine(d.Root, "pids");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        // PID 2 is kthreadd: alive, and no process of this unit.
        d.WriteUnit("liar", $$"""
            [Service]
            Type = "forking"
            User = "nobody"
            PIDFile = "{{dir}}/liar.pid"
            ExecStart = ["/bin/sh", "-c", "echo 2 > {{dir}}/liar.pid"]
            """);
        d.Start();
        d.WaitFor(() => d.Prop("liar", "ActiveState") == "failed", "liar to fail");
        Assert.Contains($"New main PID 2 does not belong to service, and PID file {dir}/liar.pid is not owned by root. Refusing.",
            d.Cli("logs", "liar", "--state-dir", d.State).Out);
    }
}
