using System.Globalization;
using Supervisor.Linux.Native;
using Supervisor.Linux.Proc;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #15, process attributes and standard I/O, with the real daemon: what the unit declares is
/// seen from outside (/proc, ioprio_get) and from inside (the service's own nice/chrt/ionice), a
/// renice shows as drift in inspect, SIGPIPE ignored or not decides whether `yes | head -1`'s
/// writer dies, and StandardOutput's file modes after two starts.
/// </summary>
public class ProcessDaemonTests
{
    private static string Logs(Daemon d, string unit) => d.Cli("logs", unit, "--state-dir", d.State).Out;

    [Fact]
    public async Task Scheduling_io_priority_oom_score_and_sigpipe_are_in_force_and_a_renice_is_drift()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("pa", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"echo nice=$(nice); chrt -p $$$$; ionice -p $$$$; (yes; echo yes-exited-$? >&2) | head -n1; exec sleep 1000\"]\n" +
            "Nice = 7\nCPUSchedulingPolicy = \"batch\"\nIOSchedulingClass = \"best-effort\"\nIOSchedulingPriority = 6\nOOMScoreAdjust = 300\nSyslogIdentifier = \"myident\"\n");
        d.WriteUnit("pipe", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"(yes; echo yes-exited-$? >&2) | head -n1; exec sleep 1000\"]\nIgnoreSIGPIPE = false\n");
        d.Start();
        d.WaitForState("pa", "active", "running");
        d.WaitForState("pipe", "active", "running");
        int pid = d.MainPid("pa");
        var sched = ProcScheduling.TryRead(pid)!;
        Assert.Equal((7, 3u, 0u), (sched.Nice, sched.Policy, sched.RtPriority));
        Assert.Equal((2 << 13) | 6, Libc.IoprioGet(pid));
        Assert.Equal(300, ProcScheduling.TryReadOomScoreAdjust(pid));
        Assert.NotEqual(0UL, ProcStatus.Read(pid).SigIgn!.Value & (1UL << 12));
        Assert.Equal(0UL, ProcStatus.Read(d.MainPid("pipe")).SigIgn!.Value & (1UL << 12));

        // From inside, and the identifier on every line; SIGPIPE ignored: yes gets EPIPE and exits 1.
        // stdout and stderr are read by two pumps: wait for the last line of each.
        d.WaitFor(() => Logs(d, "pa") is var l && l.Contains("yes-exited-", StringComparison.Ordinal) && l.Contains("best-effort: prio", StringComparison.Ordinal), "pa's output");
        var log = Logs(d, "pa");
        Assert.Contains("myident stdout: nice=7", log);
        Assert.Contains("SCHED_BATCH", log);
        Assert.Contains("myident stdout: best-effort: prio 6", log);
        Assert.Contains("myident stderr: yes-exited-1", log);
        // Default disposition: the writer is killed by SIGPIPE (128 + 13); the default identifier is the program's name.
        d.WaitFor(() => Logs(d, "pipe").Contains("yes-exited-", StringComparison.Ordinal), "pipe's output");
        Assert.Contains("sh stderr: yes-exited-141", Logs(d, "pipe"));

        var inspect = d.Cli("inspect", "pa").Out.Split('\n');
        Assert.Contains(inspect, l => l.StartsWith("  ok   nice ", StringComparison.Ordinal) || l.Contains("ok   nice", StringComparison.Ordinal));
        Assert.Contains(inspect, l => l.Contains("ok   I/O scheduling", StringComparison.Ordinal));
        Assert.Contains(inspect, l => l.Contains("ok   oom_score_adj", StringComparison.Ordinal));
        using (var renice = System.Diagnostics.Process.Start("renice", ["-n", "3", "-p", pid.ToString(CultureInfo.InvariantCulture)]))
            renice.WaitForExit();
        Assert.Contains(d.Cli("inspect", "pa").Out.Split('\n'), l => l.Contains("DIFF nice", StringComparison.Ordinal) && l.Contains("found 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_real_time_policy_in_the_units_cgroup_without_a_budget_fails_naming_the_key()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"))
            Assert.Skip("no cgroup v1 real-time group scheduling here (cpu.rt_runtime_us)");
        await using var d = new Daemon();
        d.WriteUnit("rt", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\nCPUSchedulingPolicy = \"fifo\"\nCPUSchedulingPriority = 10\n");
        d.Start();
        d.WaitFor(() => Logs(d, "rt").Contains("CPUSchedulingPolicy=fifo", StringComparison.Ordinal), "the start failure");
        Assert.Contains("cannot set CPUSchedulingPolicy=fifo with CPUSchedulingPriority=10: Operation not permitted", Logs(d, "rt"));
        Assert.Contains("cpu.rt_runtime_us", Logs(d, "rt"));
    }

    [Fact]
    public async Task StandardOutput_file_append_and_truncate_after_two_starts_and_null_keeps_stdout_out_of_the_log()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var dir = Path.Combine(d.Root, "out");
        Directory.CreateDirectory(dir);
        string F(string n) => Path.Combine(dir, n);
        File.WriteAllText(F("file"), "XXXXXXXXXXXXXXXXXXXX\n");
        File.WriteAllText(F("trunc"), "old content\n");
        string Unit(string mode, string file) =>
            $"[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"echo run; exec sleep 1000\"]\nStandardOutput = \"{mode}:{F(file)}\"\n";
        d.WriteUnit("of", Unit("file", "file"));
        d.WriteUnit("oa", Unit("append", "append"));
        d.WriteUnit("ot", Unit("truncate", "trunc"));
        d.WriteUnit("on", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"echo to-out; echo to-err >&2; exec sleep 1000\"]\nStandardOutput = \"null\"\nStandardError = \"journal\"\n");
        d.Start();
        foreach (var u in new[] { "of", "oa", "ot", "on" }) d.WaitForState(u, "active", "running");
        d.WaitFor(() => File.ReadAllText(F("append")) == "run\n" && File.ReadAllText(F("trunc")) == "run\n", "the first run's output");
        // file: writes from the start and does not truncate.
        d.WaitFor(() => File.ReadAllText(F("file")).StartsWith("run\n", StringComparison.Ordinal), "file: output");
        Assert.Equal("run\nXXXXXXXXXXXXXXXX\n", File.ReadAllText(F("file")));
        foreach (var u in new[] { "oa", "ot" }) Assert.Equal(0, d.Cli("restart", u).Code);
        d.WaitFor(() => File.ReadAllText(F("append")) == "run\nrun\n", "append: keeps both runs");
        // truncate: emptied at the second start, then the second run's line (wait for it: the
        // restart returns once the process runs, which may be before its echo).
        d.WaitFor(() => File.ReadAllText(F("trunc")).Length > 0, "truncate: the second run's output");
        Assert.Equal("run\n", File.ReadAllText(F("trunc")));
        Assert.DoesNotContain("stdout: run", Logs(d, "oa"));

        d.WaitFor(() => Logs(d, "on").Contains("sh stderr: to-err", StringComparison.Ordinal), "stderr in the log");
        Assert.DoesNotContain("to-out", Logs(d, "on"));
    }
}
