using System.Globalization;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>Each namespace, seen from outside through /proc/PID/ns against PID 1's, and the hostile checks.</summary>
public class NamespaceTests
{
    private static readonly ImmutableIdMap UserMap = new();

    private sealed class ImmutableIdMap
    {
        public readonly System.Collections.Immutable.ImmutableArray<IdMapEntry> Map = [new IdMapEntry(0, 100000, 65536)];
    }

    public static TheoryData<string> Kinds => ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"];

    private static NamespaceFlags FlagOf(string kind) => kind switch
    {
        "pid" => NamespaceFlags.Pid, "net" => NamespaceFlags.Net, "mnt" => NamespaceFlags.Mount, "ipc" => NamespaceFlags.Ipc,
        "uts" => NamespaceFlags.Uts, "user" => NamespaceFlags.User, "cgroup" => NamespaceFlags.Cgroup, "time" => NamespaceFlags.Time,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_namespace_is_new_and_only_that_one(string kind)
    {
        Host.RequireRoot();
        var plan = Probe.Plan() with { Namespaces = FlagOf(kind) };
        if (kind == "user")
            plan = plan with { UidMap = UserMap.Map, GidMap = UserMap.Map };
        using var run = new Runner.Running(plan);
        var state = IsolationState.Read(run.ServicePid);
        Assert.True(state.InNewNamespace(kind), $"{kind} namespace should differ from PID 1's");
        foreach (var other in IsolationState.NamespaceKinds.Where(k => k != kind && state.Namespaces.ContainsKey(k)))
            Assert.False(state.InNewNamespace(other), $"{other} namespace should be the host's when only {kind} is declared");
        Assert.All(IsolationCheck.Compare(plan, state).Where(l => l.Property.StartsWith("namespace", StringComparison.Ordinal)),
            l => Assert.Equal(CheckResult.Match, l.Result));
    }

    [Fact]
    public void User_namespace_maps_service_root_to_the_declared_host_uid()
    {
        Host.RequireRoot();
        // A fresh user namespace keeps the creator's host uid until a setuid inside it, so the
        // plan switches to the namespace's uid 0 explicitly.
        var plan = Probe.Plan() with { Namespaces = NamespaceFlags.User, UidMap = UserMap.Map, GidMap = UserMap.Map, Identity = new Identity(0, 0, []) };
        using var run = new Runner.Running(plan);
        Assert.Equal("0 100000 65536", File.ReadAllText($"/proc/{run.ServicePid}/uid_map").Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Aggregate((a, b) => a + " " + b));
        // From the host, service root is the unprivileged uid 100000.
        Assert.Equal(100000u, IsolationState.Read(run.ServicePid).Uid);
    }

    [Fact]
    public void Hostname_is_set_in_a_new_uts_namespace()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("hostname") with { Namespaces = NamespaceFlags.Uts, Hostname = "sbx-site" };
        Assert.Equal("sbx-site", Runner.Run(plan).Line);
        using var run = new Runner.Running(plan);
        Assert.Equal("sbx-site", IsolationState.Read(run.ServicePid).Hostname);
        Assert.NotEqual("sbx-site", Environment.MachineName);
    }

    [Fact]
    public void Loopback_is_up_in_a_new_network_namespace_only_when_declared()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("loopback") with { Namespaces = NamespaceFlags.Net };
        Assert.True(Runner.Run(plan with { LoopbackUp = true }).Ok);
        Assert.Equal("fail 100", Runner.Run(plan).Line); // ENETDOWN: a new netns starts with lo down
    }

    [Fact]
    public void Setns_into_the_host_network_namespace_fails_without_CAP_SYS_ADMIN()
    {
        Host.RequireRoot();
        // The test runner's own netns is the host's.
        var hostNet = $"/proc/{Environment.ProcessId}/ns/net";
        var plan = Probe.Plan("setns", hostNet) with { Namespaces = NamespaceFlags.Net };
        Assert.True(Runner.Run(plan).Ok, "with CAP_SYS_ADMIN the escape works, so the test can fail");
        var dropped = plan with { Capabilities = Sandboxes.RootWithout(21) };
        Assert.Equal("fail 1", Runner.Run(dropped).Line);
    }

    [Fact]
    public void Ptrace_of_the_namespace_pid_1_fails_without_CAP_SYS_PTRACE()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("ptrace", "1") with { Namespaces = NamespaceFlags.Pid };
        Assert.True(Runner.Run(plan).Ok, "with CAP_SYS_PTRACE the attach works, so the test can fail");
        Assert.Equal("fail 1", Runner.Run(plan with { Capabilities = Sandboxes.RootWithout(19) }).Line);
    }

    [Fact]
    public void Named_network_namespace_is_joined()
    {
        Host.RequireRoot();
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip"))
            Assert.Skip("needs iproute2's ip to create a named network namespace");
        var name = "sbx-test-" + Guid.NewGuid().ToString("N")[..8];
        // ip makes /run/netns a shared bind mount of itself the first time; undo that if we caused it.
        bool hadNetnsDir = Directory.Exists("/run/netns");
        Host.Run("ip", "netns", "add", name);
        try
        {
            var path = "/run/netns/" + name;
            var plan = Probe.Plan() with { NetworkNamespacePath = path };
            using var run = new Runner.Running(plan);
            var state = IsolationState.Read(run.ServicePid);
            var link = new FileInfo($"/proc/{run.ServicePid}/ns/net").LinkTarget!;
            Assert.Equal(Supervisor.Linux.Files.Statx.Identity(path)!.Value.Ino.ToString(CultureInfo.InvariantCulture), link[5..^1]);
            Assert.Equal(CheckResult.Match, IsolationCheck.Compare(plan, state).Single(l => l.Property == "namespace net").Result);
        }
        finally
        {
            Host.Run("ip", "netns", "delete", name);
            if (!hadNetnsDir && Directory.Exists("/run/netns") && !Directory.EnumerateFileSystemEntries("/run/netns").Any())
            {
                while (File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == "/run/netns"))
                    Host.Run("umount", "/run/netns");
                Directory.Delete("/run/netns");
            }
        }
    }

    [Fact]
    public void Pid_namespace_init_forwards_SIGTERM_and_exits_128_plus_signal()
    {
        Host.RequireRoot();
        using var run = new Runner.Running(Probe.Plan() with { Namespaces = NamespaceFlags.Pid });
        Assert.True(run.Process.HasInit);
        Assert.NotEqual(run.Process.Pid, run.ServicePid);
        Assert.True(run.Process.Signal(15));
        var exit = run.Process.WaitForExit(Runner.SafetyNet);
        Assert.Equal(128 + 15, exit?.Code);
    }

    [Theory]
    [InlineData(1)]  // SIGHUP
    [InlineData(2)]  // SIGINT
    [InlineData(3)]  // SIGQUIT
    [InlineData(10)] // SIGUSR1
    [InlineData(12)] // SIGUSR2
    public void Pid_namespace_init_forwards_every_stop_signal(int signal)
    {
        Host.RequireRoot();
        using var run = new Runner.Running(Probe.Plan() with { Namespaces = NamespaceFlags.Pid });
        Assert.True(run.Process.Signal(signal));
        Assert.Equal(128 + signal, run.Process.WaitForExit(Runner.SafetyNet)?.Code);
    }

    [Fact]
    public void Pid_namespace_init_reaps_orphaned_zombies()
    {
        Host.RequireRoot();
        var plan = Probe.Plan() with { Namespaces = NamespaceFlags.Pid };
        using var run = new Runner.Running(plan, "orphan");
        // The orphans were reparented to the init; wait for it to reap them (the deadline is
        // only a safety net: a broken init leaves them as zombies forever).
        var deadline = DateTime.UtcNow + Runner.SafetyNet;
        while (Children(run.Process.Pid).Count > 1)
        {
            Assert.True(DateTime.UtcNow < deadline, $"zombies left under the init: {string.Join(", ", Children(run.Process.Pid))}");
            Thread.Sleep(20);
        }
        Assert.Equal([run.ServicePid.ToString(CultureInfo.InvariantCulture)], Children(run.Process.Pid).Select(c => c.Split(' ')[0]));
    }

    private static List<string> Children(int parent)
    {
        var result = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (f[1] == parent.ToString(CultureInfo.InvariantCulture))
                    result.Add($"{Path.GetFileName(dir)} state {f[0]}");
            }
            catch (IOException)
            {
            }
        }
        return result;
    }

    [Fact]
    public void New_proc_in_a_pid_namespace_shows_only_the_namespace()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("pid") with { Namespaces = NamespaceFlags.Pid | NamespaceFlags.Mount, Mounts = [new ProcMount("/proc")] };
        Assert.Equal("2", Runner.Run(plan).Line); // init is 1, the service 2
        var host = $"/proc/{Environment.ProcessId}";
        Assert.Equal("fail 2", Runner.Run(plan with { Argv = ["probe", "exists", host] }).Line);
        Assert.True(Runner.Run(Probe.Plan("exists", host)).Ok);
    }
}

public class UserNamespaceCombinationTests
{
    [Fact]
    public void User_pid_and_mount_namespaces_together_get_their_own_proc_and_an_unprivileged_root()
    {
        Host.RequireRoot();
        System.Collections.Immutable.ImmutableArray<IdMapEntry> map = [new IdMapEntry(0, 100000, 65536)];
        var plan = Probe.Plan("pid") with
        {
            Namespaces = NamespaceFlags.User | NamespaceFlags.Pid | NamespaceFlags.Mount,
            UidMap = map,
            GidMap = map,
            Identity = new Identity(0, 0, []),
            Mounts = [new ProcMount("/proc"), new RemountMount("/usr", ReadOnly: true)],
        };
        Assert.Equal("2", Runner.Run(plan).Line);
        // Service root has no power over the host: it cannot write under a host path root owns.
        using var dir = new TempDir();
        Assert.Equal("fail 13", Runner.Run(plan with { Argv = ["probe", "write", dir.Combine("x")] }).Line);
        Assert.True(Runner.Run(Probe.Plan("write", dir.Combine("x"))).Ok, "host root can, so the test can fail");
    }
}
