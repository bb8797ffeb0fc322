using Supervisor.Sandbox.Launch;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

public class LauncherTests
{
    [Fact]
    public void Plain_exec_returns_the_exit_code()
    {
        Host.RequireRoot();
        var r = Runner.Run(Probe.Plan("exit", "7"));
        Assert.Equal(7, r.Exit.Code);
    }

    [Fact]
    public void Pid_namespace_init_passes_the_service_exit_code_through()
    {
        Host.RequireRoot();
        var r = Runner.Run(Probe.Plan("exit", "42") with { Namespaces = NamespaceFlags.Pid | NamespaceFlags.Mount, Mounts = [new ProcMount("/proc")] });
        Assert.Equal(42, r.Exit.Code);
    }

    [Fact]
    public void Missing_binary_fails_at_the_exec_step_and_leaves_nothing_behind()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("exit", "0") with { Path = "/nonexistent/binary" };
        var e = Assert.Throws<SandboxSetupException>(() => SandboxLauncher.Start(plan, "web", Host.HelperPath));
        Assert.Equal(SetupStep.Exec, e.Step);
        Assert.Equal(2, e.Errno);
        Assert.Equal("web: cannot execute '/nonexistent/binary': No such file or directory", e.Message);
        AssertNoChildren();
    }

    [Fact]
    public void A_refused_resource_limit_is_named_as_the_unit_file_writes_it_with_the_cause()
    {
        // Above fs.nr_open setrlimit(RLIMIT_NOFILE) is refused even with CAP_SYS_RESOURCE, so the
        // refusal happens on every host; the cause names whichever limit applies here.
        Host.RequireRoot();
        ulong tooMany = ulong.Parse(File.ReadAllText("/proc/sys/fs/nr_open").Trim(), System.Globalization.CultureInfo.InvariantCulture) + 1;
        var plan = Probe.Plan("exit", "0") with { ResourceLimits = [new ResourceLimit(RlimitResource.Nofile, tooMany, tooMany)] };
        var e = Assert.Throws<SandboxSetupException>(() => SandboxLauncher.Start(plan, "redis", Host.HelperPath));
        Assert.Equal(SetupStep.Rlimit, e.Step);
        Assert.StartsWith($"redis: cannot set LimitNOFILE={tooMany}: Operation not permitted (", e.Message);
        Assert.Matches(@"fs\.nr_open = \d+|the supervisor's own hard limit is \d+; raising a hard limit above it needs CAP_SYS_RESOURCE", e.Message);
        AssertNoChildren();
    }

    internal static void AssertNoChildren()
    {
        // Every process the launcher made was reaped: none of ours is left as a child or zombie.
        var me = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
                continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[1] == me && !stat.Contains("(dotnet)") && !stat.Contains("(gcc)"))
                Assert.Fail($"a child is left behind: {stat}");
        }
    }
}

public class SessionTests
{
    private static string SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // fields after "(comm)": state ppid pgrp session ...
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3];
    }

    [Fact]
    public void The_service_runs_in_its_own_session_away_from_the_supervisors_terminal()
    {
        Host.RequireRoot();
        using var run = new Runner.Running(Probe.Plan());
        Assert.Equal(run.ServicePid.ToString(System.Globalization.CultureInfo.InvariantCulture), SessionOf(run.ServicePid));
        Assert.NotEqual(SessionOf(Environment.ProcessId), SessionOf(run.ServicePid));
    }
}
