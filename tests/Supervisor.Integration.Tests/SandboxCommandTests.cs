namespace Supervisor.Integration.Tests;

/// <summary>`supervisor exec` and `supervisor inspect`, as a person runs them.</summary>
public class SandboxCommandTests
{
    private const string Sandboxed = """
        [Service]
        ExecStart = ["/bin/sleep", "1000"]
        User = "nobody"
        [Resources]
        MemoryMax = "48M"
        TasksMax = 16
        [Sandbox]
        Namespaces = ["pid", "mount", "ipc", "uts", "net"]
        Hostname = "boxed"
        CapabilityBoundingSet = []
        NoNewPrivileges = true
        SystemCallFilter = ["@system-service"]
        SystemCallArchitectures = ["native"]
        ProtectSystem = "strict"
        PrivateTmp = true
        """;

    [Fact]
    public async Task Exec_runs_a_command_in_the_units_sandbox_and_limits_and_returns_its_status()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("box", Sandboxed);
        var memoryFile = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "memory.max" : "memory.limit_in_bytes";
        var script = "id -u; hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; " +
                     "grep memory /proc/self/cgroup || grep '^0::' /proc/self/cgroup; " +
                     "touch /usr/forbidden 2>/dev/null && echo WROTE-USR; exit 42";
        var (code, output, error) = d.Cli("exec", "box", "--units", d.Units, "--cgroup-root", d.CgroupRoot, "--", "/bin/sh", "-c", script);
        Assert.True(code == 42, $"exit {code}: {error}\n{output}");
        var lines = output.Split('\n');
        Assert.Equal("65534", lines[0]);
        Assert.Equal("boxed", lines[1]);
        Assert.Contains("NoNewPrivs:\t1", output);
        Assert.Contains("Seccomp:\t2", output);
        Assert.DoesNotContain("WROTE-USR", output);
        // The transient cgroup carried the unit's MemoryMax while the command ran, and is gone now.
        var cgroupLine = lines.First(l => l.Contains("exec-box-", StringComparison.Ordinal));
        Assert.Contains(".scope", cgroupLine);
        var scope = cgroupLine[(cgroupLine.LastIndexOf(':') + 1)..];
        var dir = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? $"/sys/fs/cgroup{scope}" : $"/sys/fs/cgroup/memory{scope}";
        Assert.False(Directory.Exists(dir), $"transient cgroup {dir} was left behind ({memoryFile})");
    }

    [Fact]
    public async Task Exec_applies_the_memory_limit_for_real()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("hog", "[Service]\nExecStart = [\"/bin/true\"]\n[Resources]\nMemoryMax = \"32M\"\nMemorySwapMax = \"0\"\n");
        // perl allocates 256 MiB and touches it: under MemoryMax=32M the OOM killer ends it (SIGKILL → 137).
        var (code, _, error) = d.Cli("exec", "hog", "--units", d.Units, "--cgroup-root", d.CgroupRoot, "--", "/usr/bin/perl", "-e", "my $x = 'x' x (256*1024*1024); print length($x);");
        Assert.True(code == 137, $"exit {code}: {error}");
        var (free, _, _) = d.Cli("exec", "hog", "--units", d.Units, "--cgroup-root", d.CgroupRoot, "--", "/usr/bin/perl", "-e", "my $x = 'x' x (4*1024*1024); exit 0;");
        Assert.Equal(0, free);
    }

    [Fact]
    public async Task Exec_of_a_unit_that_cannot_start_names_the_unit_key_and_cause()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("nouser", "[Service]\nExecStart = [\"/bin/true\"]\nUser = \"no-such-user-here\"\n");
        var (code, _, error) = d.Cli("exec", "nouser", "--units", d.Units, "--cgroup-root", d.CgroupRoot);
        Assert.Equal(1, code);
        Assert.Contains("nouser: User: user 'no-such-user-here' does not exist", error);
    }

    [Fact]
    public async Task Inspect_shows_every_declared_isolation_in_force_for_a_running_unit()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("box", Sandboxed);
        d.Start();
        d.WaitForState("box", "active", "running");
        var (code, output, error) = d.Cli("inspect", "box", "--units", d.Units, "--cgroup-root", d.CgroupRoot);
        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        foreach (var property in new[] { "namespace pid", "namespace net", "namespace mnt", "uid", "CapBnd", "NoNewPrivs", "Seccomp", "mount /", "hostname", "cgroup" })
            Assert.Contains(output.Split('\n'), l => l.Contains($"ok   {property}", StringComparison.Ordinal));
        Assert.DoesNotContain("DIFF", output);

        // Against a declaration it does not have (no sandbox at all), the same process mismatches.
        File.WriteAllText(Path.Combine(d.Units, "plain.toml"), "[Service]\nExecStart = [\"/bin/sleep\", \"1\"]\n");
        var pid = d.MainPid("box").ToString();
        var (mismatch, diff, _) = d.Cli("inspect", pid, "--unit", "plain", "--units", d.Units, "--cgroup-root", d.CgroupRoot);
        Assert.Equal(1, mismatch);
        Assert.Contains("DIFF", diff);
    }
}
