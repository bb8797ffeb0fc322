using System.Diagnostics;
using Supervisor.Cgroups.Bpf;
using Supervisor.Cgroups.Tests.Bpf;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Tests.Real;

/// <summary>
/// DevicePolicy/DeviceAllow, IPAddressAllow/Deny and SocketBindAllow/Deny against the real kernel,
/// as root: a probe (python3) joins the cgroup before it runs, then tries what the declaration
/// forbids and what it allows, and prints each result as an errno name. Each test also runs the
/// same probe without the keys, so a probe that fails for another reason cannot pass as denied.
/// Variants: v1 here (devices controller), v2 on this hybrid host's cgroup2 mount (BPF programs
/// attach to any cgroup2 directory, controllers or not), and v2 in the VM lane.
/// </summary>
[Collection("real-cgroups")]
public abstract class DeviceNetworkRealTests : IDisposable
{
    private static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(120);
    private readonly List<Process> _started = [];
    private readonly string? _skip;
    private readonly ICgroupDriver? _driver;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "supervisor-devnet-" + Guid.NewGuid().ToString("N")[..12]);

    protected DeviceNetworkRealTests()
    {
        if (Libc.GetEuid() != 0)
        {
            _skip = "needs root to create cgroups and device nodes";
            return;
        }
        if (!File.Exists("/usr/bin/python3"))
        {
            _skip = "needs /usr/bin/python3 as the probe";
            return;
        }
        var layout = DetectLayout(out _skip);
        if (layout is null)
        {
            return;
        }
        _driver = CgroupDriver.Create(layout, "supervisor-test-" + Guid.NewGuid().ToString("N")[..12]);
        _driver.PrepareRoot();
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(_dir, "devices.py"), DeviceProbe);
        File.WriteAllText(Path.Combine(_dir, "network.py"), NetworkProbe);
        File.WriteAllText(Path.Combine(_dir, "bind.py"), BindProbe);
        // A node for /dev/kmsg (c 1:11), outside DevicePolicy=closed's list, made by the test
        // (outside any cgroup) so the probe's open meets only the unit's device rules.
        Run("mknod", Path.Combine(_dir, "kmsg"), "c", "1", "11");
    }

    protected abstract int Version { get; }

    /// <summary>The layout this variant runs on, or null with the reason to skip.</summary>
    protected virtual CgroupLayout? DetectLayout(out string? skip)
    {
        var host = CgroupLayout.Detect();
        skip = host.IsV2 == (Version == 2) ? null : $"host is not cgroup v{Version}";
        return skip is null ? host : null;
    }

    private ICgroupDriver Driver(bool bpfOnly = false)
    {
        if (_skip is not null)
        {
            Assert.Skip(_skip);
        }
        if (bpfOnly && Version == 1)
        {
            Assert.Skip("address and bind filters are cgroup v2 BPF programs (v1 refuses them: DeviceNetworkTests)");
        }
        if (Version == 2 && BpfSupport.Probe() is { } why)
        {
            Assert.Skip(why);
        }
        return _driver!;
    }

    private const string Common = """
        import errno, os, socket, stat, sys
        def res(f):
            try:
                f()
                return "ok"
            except OSError as e:
                return errno.errorcode.get(e.errno, str(e.errno))

        """;

    private const string DeviceProbe = Common + """
        d = sys.argv[1]
        print("null", res(lambda: os.close(os.open("/dev/null", os.O_RDWR))))
        print("open-kmsg", res(lambda: os.close(os.open(os.path.join(d, "kmsg"), os.O_RDONLY))))
        print("mknod-kmsg", res(lambda: os.mknod(os.path.join(d, "kmsg-" + str(os.getpid())), 0o600 | stat.S_IFCHR, os.makedev(1, 11))))
        """;

    private const string NetworkProbe = Common + """
        def tcp_localhost():
            srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
            c = socket.create_connection(srv.getsockname(), timeout=30); a, _ = srv.accept()
            c.sendall(b"x"); assert a.recv(1) == b"x"
        def udp_other():
            r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("10.254.0.1", 0)); r.settimeout(30)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"y", r.getsockname()); r.recv(1)
        print("tcp-localhost", res(tcp_localhost))
        print("udp-other", res(udp_other))
        """;

    private const string BindProbe = Common + """
        def bind(family, kind, address, port):
            def f():
                s = socket.socket(family, kind); s.bind((address, port)); s.close()
            return f
        print("tcp4-40001", res(bind(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", 40001)))
        print("tcp4-40002", res(bind(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", 40002)))
        print("udp4-40002", res(bind(socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1", 40002)))
        print("tcp6-40001", res(bind(socket.AF_INET6, socket.SOCK_STREAM, "::1", 40001)))
        """;

    /// <summary>Starts the probe held on stdin, joins it to <paramref name="cg"/>, lets it run, returns "what → result".</summary>
    private async Task<Dictionary<string, string>> ProbeAsync(ICgroup cg, string script)
    {
        var p = StartHeld(script);
        cg.Join(p.Id);
        return await FinishAsync(p);
    }

    /// <summary>`sh -c 'read x; …'`: it blocks until it is told to go, after it has joined. Network probes get their own netns.</summary>
    private Process StartHeld(string script)
    {
        var run = $"exec /usr/bin/python3 {_dir}/{script} {_dir}";
        if (script != "devices.py")
        {
            // Own network namespace: loopback up, and a second address that is neither localhost nor anyone else's.
            run = $"exec unshare -n sh -c 'ip link set lo up && ip addr add 10.254.0.1/32 dev lo && {run}'";
        }
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("read x; " + run);
        var p = Process.Start(psi)!;
        _started.Add(p);
        return p;
    }

    private static async Task<Dictionary<string, string>> FinishAsync(Process p)
    {
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        var ct = TestContext.Current.CancellationToken;
        var output = await p.StandardOutput.ReadToEndAsync(ct).WaitAsync(SafetyNet, ct);
        var error = await p.StandardError.ReadToEndAsync(ct).WaitAsync(SafetyNet, ct);
        await p.WaitForExitAsync(ct).WaitAsync(SafetyNet, ct);
        Assert.True(p.ExitCode == 0, $"probe exited {p.ExitCode}: {error}\n{output}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(l => l[0], l => l[1]);
    }

    private static ResourceLimits Closed => new() { DevicePolicy = DevicePolicy.Closed };

    [Fact]
    public async Task DevicePolicy_closed_lets_the_probe_use_dev_null_but_not_open_or_create_another_device()
    {
        var driver = Driver();
        var cg = driver.Open(CgroupPath.ForUnit("closed"));
        cg.Create(Closed);
        var closed = await ProbeAsync(cg, "devices.py");
        Assert.Equal(("ok", "EPERM", "EPERM"), (closed["null"], closed["open-kmsg"], closed["mknod-kmsg"]));

        var open = driver.Open(CgroupPath.ForUnit("open"));
        open.Create(ResourceLimits.None);
        var free = await ProbeAsync(open, "devices.py");
        Assert.Equal(("ok", "ok", "ok"), (free["null"], free["open-kmsg"], free["mknod-kmsg"]));
    }

    [Fact]
    public async Task DeviceAllow_grants_only_the_access_it_names()
    {
        var cg = Driver().Open(CgroupPath.ForUnit("kmsg"));
        // strict: nothing but a node for c 1:11 read-only; not even /dev/null.
        cg.Create(new ResourceLimits { DevicePolicy = DevicePolicy.Strict, DeviceAllow = [new(Path.Combine(_dir, "kmsg"), DeviceAccess.Read)] });
        var r = await ProbeAsync(cg, "devices.py");
        Assert.Equal(("EPERM", "ok", "EPERM"), (r["null"], r["open-kmsg"], r["mknod-kmsg"]));
    }

    [Fact]
    public async Task A_device_policy_applied_to_a_running_cgroup_takes_effect_and_removing_it_lifts_it()
    {
        var cg = Driver().Open(CgroupPath.ForUnit("live"));
        cg.Create(ResourceLimits.None);
        var first = StartHeld("devices.py");
        cg.Join(first.Id);
        Assert.NotEmpty(cg.Apply(Closed, previous: ResourceLimits.None)); // the process is in the cgroup already
        Assert.Equal("EPERM", (await FinishAsync(first))["open-kmsg"]);

        Assert.NotEmpty(cg.Apply(ResourceLimits.None, previous: Closed));
        Assert.Equal("ok", (await ProbeAsync(cg, "devices.py"))["open-kmsg"]);
        Assert.Empty(cg.CheckAccess(ResourceLimits.None));
    }

    [Fact]
    public async Task A_slices_device_policy_holds_for_the_units_in_it()
    {
        var driver = Driver();
        var slice = CgroupPath.ForSlice("locked");
        var unit = CgroupPath.ForUnit("member", "locked");
        CgroupTree.CreateUnit(driver, unit, p => p.Equals(slice) ? Closed : ResourceLimits.None, ResourceLimits.None);
        var r = await ProbeAsync(driver.Open(unit), "devices.py");
        Assert.Equal(("ok", "EPERM"), (r["null"], r["open-kmsg"]));
    }

    [Fact]
    public async Task Device_rules_removed_by_hand_are_seen_as_drift_and_put_back()
    {
        var cg = Driver().Open(CgroupPath.ForUnit("drift"));
        cg.Create(Closed);
        Assert.Empty(cg.CheckDrift(Closed));
        Assert.All(cg.CheckAccess(Closed), a => Assert.True(a.Matches, $"{a.Key}: declared {a.Declared}, found {a.Found}"));

        if (Version == 1)
        {
            File.WriteAllText(Path.Combine(cg.Directories.First(d => d.Contains("/devices/", StringComparison.Ordinal)), "devices.allow"), "a");
        }
        else
        {
            using var fd = BpfObjects.OpenCgroup(cg.Directories[0]);
            foreach (var p in BpfObjects.Query(fd, cg.Directories[0], Libc.BPF_CGROUP_DEVICE, withMaps: false))
            {
                BpfObjects.Detach(fd, cg.Directories[0], Libc.BPF_CGROUP_DEVICE, p.Id);
            }
        }
        var drift = Assert.Single(cg.CheckDrift(Closed));
        Assert.Equal(ResourceKeys.DevicePolicy, drift.Key);
        Assert.Contains(cg.CheckAccess(Closed), a => !a.Matches);
        Assert.Equal("ok", (await ProbeAsync(cg, "devices.py"))["open-kmsg"]); // really unprotected meanwhile

        Assert.NotEmpty(cg.Repair(Closed));
        Assert.Empty(cg.CheckDrift(Closed));
        Assert.Equal("EPERM", (await ProbeAsync(cg, "devices.py"))["open-kmsg"]);
    }

    [Fact]
    public void Applying_and_checking_programs_leaves_no_descriptor_open()
    {
        var cg = Driver(bpfOnly: true).Open(CgroupPath.ForUnit("fds"));
        var limits = Closed with { IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0")], SocketBindDeny = [SocketBindRule.Any] };
        cg.Create(ResourceLimits.None);
        // Only BPF descriptors are counted: tests of other classes run in parallel in this process and open and
        // close files of their own, so the process-wide count moves on its own (it did, once, in the VM lane).
        var before = OpenBpfDescriptors();
        for (int i = 0; i < 3; i++)
        {
            cg.Apply(limits, previous: ResourceLimits.None);
            cg.CheckDrift(limits);
            cg.CheckAccess(limits);
            cg.Apply(ResourceLimits.None, previous: limits);
        }
        Assert.Equal(before, OpenBpfDescriptors());
    }

    private static int OpenBpfDescriptors()
    {
        int n = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("anon_inode:bpf", StringComparison.Ordinal))
                {
                    n++;
                }
            }
            catch (IOException)
            {
                // closed between the listing and the readlink
            }
        }
        return n;
    }

    [Fact]
    public async Task IPAddressDeny_any_with_IPAddressAllow_localhost_lets_loopback_through_and_drops_another_address()
    {
        var driver = Driver(bpfOnly: true);
        var cg = driver.Open(CgroupPath.ForUnit("fw"));
        var limits = new ResourceLimits
        {
            IPAddressAllow = [BpfProgramTests.Prefix("127.0.0.0/8"), BpfProgramTests.Prefix("::1/128")],
            IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0"), BpfProgramTests.Prefix("::/0")],
        };
        cg.Create(limits);
        var r = await ProbeAsync(cg, "network.py");
        Assert.Equal(("ok", "EPERM"), (r["tcp-localhost"], r["udp-other"]));
        Assert.All(cg.CheckAccess(limits), a => Assert.True(a.Matches, $"{a.Key}: {a.Found}"));

        var open = driver.Open(CgroupPath.ForUnit("nofw"));
        open.Create(ResourceLimits.None);
        var free = await ProbeAsync(open, "network.py");
        Assert.Equal(("ok", "ok"), (free["tcp-localhost"], free["udp-other"]));
    }

    [Fact]
    public void An_address_map_changed_by_hand_is_drift_and_the_repair_replaces_the_program()
    {
        var cg = Driver(bpfOnly: true).Open(CgroupPath.ForUnit("fwdrift"));
        var limits = new ResourceLimits { IPAddressDeny = [BpfProgramTests.Prefix("192.0.2.0/24")] };
        cg.Create(limits);
        using (var fd = BpfObjects.OpenCgroup(cg.Directories[0]))
        {
            var attached = Assert.Single(BpfObjects.Query(fd, cg.Directories[0], Libc.BPF_CGROUP_INET_EGRESS, withMaps: false));
            using var prog = new SafeFd(Libc.BpfProgGetFdById(attached.Id));
            var mapIds = new uint[1];
            Libc.BpfProgGetInfo(prog.Fd, out _, mapIds);
            using var map = new SafeFd(Libc.BpfMapGetFdById(mapIds[0]));
            // The deny entry turned into an allow entry: 192.0.2.0/24 would pass.
            byte[] key = [24, 0, 0, 0, 192, 0, 2, 0];
            Assert.Equal(0, Libc.BpfMapUpdate(map.Fd, key, BitConverter.GetBytes((ulong)FirewallProgram.Allowed), Libc.BPF_ANY));
        }
        Assert.Contains(cg.CheckDrift(limits), d => d.Key == ResourceKeys.IPAddressDeny && d.Found.Contains("other contents in its maps", StringComparison.Ordinal));
        cg.Repair(limits);
        Assert.Empty(cg.CheckDrift(limits));
    }

    [Fact]
    public async Task SocketBindDeny_refuses_the_denied_ports_with_EPERM_and_SocketBindAllow_opens_one_of_them()
    {
        var driver = Driver(bpfOnly: true);
        var cg = driver.Open(CgroupPath.ForUnit("bind"));
        var limits = new ResourceLimits
        {
            SocketBindAllow = [new SocketBindRule(SocketBindFamily.Any, SocketBindProtocol.Tcp, 40001, 1)],
            SocketBindDeny = [new SocketBindRule(SocketBindFamily.IPv4, SocketBindProtocol.Tcp, 40000, 11), new SocketBindRule(SocketBindFamily.IPv6, SocketBindProtocol.Any, 0, 0)],
        };
        cg.Create(limits);
        var r = await ProbeAsync(cg, "bind.py");
        Assert.Equal(("ok", "EPERM", "ok", "ok"), (r["tcp4-40001"], r["tcp4-40002"], r["udp4-40002"], r["tcp6-40001"]));

        var open = driver.Open(CgroupPath.ForUnit("nobind"));
        open.Create(ResourceLimits.None);
        var free = await ProbeAsync(open, "bind.py");
        Assert.All(free.Values, v => Assert.Equal("ok", v));
    }

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(program, args);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    public void Dispose()
    {
        foreach (var p in _started)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // Already exited and reaped.
            }
            p.Dispose();
        }
        if (_driver is not null)
        {
            var root = _driver.Open(CgroupPath.Root);
            root.KillAllAsync().Wait(SafetyNet);
            root.Destroy();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }
}

public sealed class RealV1DeviceNetworkTests : DeviceNetworkRealTests
{
    protected override int Version => 1;
}

/// <summary>The cgroup v2 driver on a v2 host (the VM lane).</summary>
public sealed class RealV2DeviceNetworkTests : DeviceNetworkRealTests
{
    protected override int Version => 2;
}

/// <summary>
/// The v2 driver on the cgroup2 mount a hybrid host keeps beside its v1 controllers: cgroup BPF
/// programs attach to any cgroup2 directory and govern the processes in it, so the device, address
/// and bind programs run for real on this machine too.
/// </summary>
public sealed class HybridV2DeviceNetworkTests : DeviceNetworkRealTests
{
    protected override int Version => 2;

    protected override CgroupLayout? DetectLayout(out string? skip) => HybridUnified.Layout(out skip);
}
