using Supervisor.Cgroups.Bpf;
using Supervisor.Cgroups.Tests.Bpf;
using Supervisor.Cgroups.Tests.Fake;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Tests;

/// <summary>
/// DevicePolicy/DeviceAllow, IPAddressAllow/Deny and SocketBindAllow/Deny against the fake
/// cgroupfs: which device rules a declaration resolves to (systemd's meaning), what v1 writes into
/// devices.allow/devices.deny, which programs v2 attaches where, and what is refused on v1.
/// </summary>
public sealed class DeviceNetworkTests : IDisposable
{
    private const string Unit = "supervisor/web.service";
    private readonly FakeCgroupFs _v1 = FakeCgroupFs.HybridV1();
    private readonly FakeCgroupFs _v2 = FakeCgroupFs.UnifiedV2();

    public void Dispose()
    {
        _v1.Dispose();
        _v2.Dispose();
    }

    private const string Standard = "c 1:3 rwm, c 1:5 rwm, c 1:7 rwm, c 1:8 rwm, c 1:9 rwm, c 5:0 rwm, c 5:2 rwm, c 136:* rw";

    private static DeviceRuleSet? Rules(FakeCgroupFs fake, ResourceLimits limits) =>
        DeviceRuleSet.Resolve(limits, ((DriverBase)fake.Driver()).Context);

    private static string RulesText(FakeCgroupFs fake, ResourceLimits limits) => V1.Devices.Normalise(Rules(fake, limits)?.Rules);

    [Fact]
    public void Closed_allows_the_standard_pseudo_devices_and_pts_read_write_only()
    {
        Assert.Equal(Standard, RulesText(_v1, new ResourceLimits { DevicePolicy = DevicePolicy.Closed }));
    }

    [Fact]
    public void Auto_with_a_DeviceAllow_list_behaves_as_closed_and_auto_alone_restricts_nothing()
    {
        var withList = new ResourceLimits { DeviceAllow = [new("/dev/vda", DeviceAccess.Read)] };
        Assert.Equal("b 254:0 r, " + Standard, RulesText(_v1, withList));
        Assert.Null(Rules(_v1, new ResourceLimits { DevicePolicy = DevicePolicy.Auto }));
        Assert.Null(Rules(_v1, ResourceLimits.None));
    }

    [Fact]
    public void Strict_allows_only_what_is_listed_and_classes_resolve_through_proc_devices()
    {
        var limits = new ResourceLimits
        {
            DevicePolicy = DevicePolicy.Strict,
            DeviceAllow = [new("block-loop", DeviceAccess.Read | DeviceAccess.Write), new("char-*tty*", DeviceAccess.Read), new("char-10", DeviceAccess.Mknod), new("block-*", DeviceAccess.Mknod)],
        };
        // "*tty*" matches "/dev/vc/0"? no; "tty", "ttyS" (major 4, merged) and "/dev/tty" (major 5).
        Assert.Equal("b 7:* rw, b *:* m, c 4:* r, c 5:* r, c 10:* m", RulesText(_v1, limits));
        Assert.Equal("nothing allowed", RulesText(_v1, new ResourceLimits { DevicePolicy = DevicePolicy.Strict }));
    }

    [Fact]
    public void A_missing_device_path_or_an_unknown_class_is_left_out_with_a_warning_as_systemd_does()
    {
        var limits = new ResourceLimits
        {
            DevicePolicy = DevicePolicy.Strict,
            DeviceAllow = [new("/dev/nvidia0", DeviceAccess.All), new("char-nosuchdriver", DeviceAccess.Read), new("/dev/directory", DeviceAccess.Read), new("/dev/loop0", DeviceAccess.Read)],
        };
        Assert.Equal("b 7:0 r", RulesText(_v1, limits));
        foreach (var fake in new[] { _v1, _v2 })
        {
            var warnings = fake.Driver().CannotHonour(limits);
            Assert.All(warnings, w => Assert.Equal((ResourceKeys.DeviceAllow, UnhonouredKind.Ignored), (w.Key, w.Kind)));
            Assert.Equal(
            [
                "'/dev/nvidia0' does not exist; ignored",
                "'char-nosuchdriver' matches no character device driver in /proc/devices; ignored",
                "'/dev/directory' is not a device node; ignored",
            ], warnings.Select(w => w.Reason));
        }
    }

    [Fact]
    public void Numbered_device_paths_are_taken_as_written()
    {
        var limits = new ResourceLimits { DevicePolicy = DevicePolicy.Strict, DeviceAllow = [new("/dev/char/10:200", DeviceAccess.Read), new("/dev/block/8:0", DeviceAccess.Write)] };
        Assert.Equal("b 8:0 w, c 10:200 r", RulesText(_v1, limits));
    }

    [Fact]
    public void V1_first_denies_by_default_then_allows_each_device()
    {
        var writes = V1.Devices.Writes(current: null, Rules(_v1, new ResourceLimits { DevicePolicy = DevicePolicy.Closed })!.Rules, "allow", "deny");
        Assert.Equal(("deny", "a"), writes[0]);
        Assert.Equal(Standard.Split(", ").Order(), writes.Skip(1).Select(w => { Assert.Equal("allow", w.File); return w.Value; }).Order());
    }

    [Fact]
    public void V1_live_change_adds_the_new_devices_before_it_takes_away_those_no_longer_declared()
    {
        var current = V1.Devices.Parse("c 1:3 rwm\nc 1:5 rwm\nb 7:0 rw\n")!;
        var wanted = new[] { new DeviceRule('c', 1, 3, DeviceAccess.All), new DeviceRule('b', 7, 0, DeviceAccess.Read), new DeviceRule('c', 136, null, DeviceAccess.Read | DeviceAccess.Write) };

        var writes = V1.Devices.Writes(current, wanted, "allow", "deny");

        // No "a" in either file: the device list is never emptied while the service runs.
        Assert.Equal([("allow", "c 136:* rw"), ("deny", "c 1:5 rwm"), ("deny", "b 7:0 w")], writes);
        Assert.Equal([("allow", "a")], V1.Devices.Writes(current, null, "allow", "deny"));
        Assert.Empty(V1.Devices.Writes(null, null, "allow", "deny"));
        Assert.Null(V1.Devices.Parse("a *:* rwm\n"));
    }

    [Fact]
    public void V1_compares_devices_list_as_the_kernel_prints_it_so_a_kept_list_is_no_drift()
    {
        _v1.AddCgroup(Unit);
        var cg = _v1.Driver().Open(CgroupPath.ForUnit("web"));
        var limits = new ResourceLimits { DevicePolicy = DevicePolicy.Closed };
        var list = _v1.V1("devices", Unit, "devices.list");

        var changes = cg.Create(limits);
        Assert.Equal([(ResourceKeys.DevicePolicy, list, "all allowed", Standard)], changes.Select(c => (c.Key, c.File, c.Old, c.New)));
        Assert.Equal("a", File.ReadAllText(_v1.V1("devices", Unit, "devices.deny")));

        // What the kernel would now print, in its own order: no drift, nothing to write.
        File.WriteAllText(list, string.Join('\n', Standard.Split(", ").Reverse()) + "\n");
        Assert.Empty(cg.CheckDrift(limits));
        Assert.Empty(cg.Apply(limits, limits));
        Assert.All(cg.CheckAccess(limits), a => Assert.True(a.Matches));

        // Someone allowed everything again by hand: drift, and the repair writes the rules back.
        File.WriteAllText(list, "a *:* rwm\n");
        var drift = Assert.Single(cg.CheckDrift(limits));
        Assert.Equal(("all allowed", Standard), (drift.Found, drift.Declared));
        Assert.False(Assert.Single(cg.CheckAccess(limits)).Matches);
    }

    [Fact]
    public void V1_removing_the_device_keys_live_allows_everything_again()
    {
        _v1.AddCgroup(Unit);
        var cg = _v1.Driver().Open(CgroupPath.ForUnit("web"));
        File.WriteAllText(_v1.V1("devices", Unit, "devices.list"), "c 1:3 rwm\n");

        var changes = cg.Apply(ResourceLimits.None, previous: new ResourceLimits { DevicePolicy = DevicePolicy.Strict, DeviceAllow = [new("/dev/null", DeviceAccess.All)] });

        Assert.Equal("a", File.ReadAllText(_v1.V1("devices", Unit, "devices.allow")));
        Assert.Equal("all allowed", Assert.Single(changes).New);
    }

    [Fact]
    public void V1_lifting_a_units_rules_below_a_restricted_slice_gives_it_the_slices_rules_not_everything()
    {
        const string member = "supervisor/a.slice/web.service";
        _v1.AddCgroup(member);
        File.WriteAllText(_v1.V1("devices", "supervisor/a.slice", "devices.list"), "c 1:3 rwm\nc 136:* rw\n");
        File.WriteAllText(_v1.V1("devices", member, "devices.list"), "c 1:3 rw\n");
        var cg = _v1.Driver().Open(CgroupPath.ForUnit("web", "a"));

        var changes = cg.Apply(ResourceLimits.None, previous: new ResourceLimits { DevicePolicy = DevicePolicy.Strict, DeviceAllow = [new("/dev/null", DeviceAccess.Read | DeviceAccess.Write)] });

        // v1 refuses "a" (allow everything) below a parent that denies: the unit gets what the slice allows.
        Assert.Equal("c 136:* rw", File.ReadAllText(_v1.V1("devices", member, "devices.allow")));
        Assert.Equal("c 1:3 rwm, c 136:* rw", Assert.Single(changes).New);
    }

    [Fact]
    public void V1_watches_the_files_the_device_list_is_changed_through()
    {
        _v1.AddCgroup(Unit);
        var cg = (CgroupBase)_v1.Driver().Open(CgroupPath.ForUnit("web"));
        var setting = Assert.Single(cg.Settings(new ResourceLimits { DevicePolicy = DevicePolicy.Closed }));
        Assert.Equal([_v1.V1("devices", Unit, "devices.allow"), _v1.V1("devices", Unit, "devices.deny")], setting.WatchFiles);
    }

    private static readonly string[] V2Only = [ResourceKeys.IPAddressAllow, ResourceKeys.IPAddressDeny, ResourceKeys.SocketBindAllow, ResourceKeys.SocketBindDeny];

    public static TheoryData<string> V2OnlyKeys => new(V2Only);

    private static ResourceLimits Declaring(string key) => key switch
    {
        ResourceKeys.IPAddressAllow => new() { IPAddressAllow = [BpfProgramTests.Prefix("127.0.0.0/8")] },
        ResourceKeys.IPAddressDeny => new() { IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0")] },
        ResourceKeys.SocketBindAllow => new() { SocketBindAllow = [new SocketBindRule(SocketBindFamily.Any, SocketBindProtocol.Tcp, 80, 1)] },
        ResourceKeys.SocketBindDeny => new() { SocketBindDeny = [SocketBindRule.Any] },
        ResourceKeys.DevicePolicy => new() { DevicePolicy = DevicePolicy.Closed },
        ResourceKeys.DeviceAllow => new() { DeviceAllow = [new("/dev/null", DeviceAccess.All)] },
        _ => throw new ArgumentException(key),
    };

    [Theory]
    [MemberData(nameof(V2OnlyKeys))]
    public void On_v1_an_address_or_bind_filter_refuses_the_unit_with_the_reason_before_any_cgroup_exists(string key)
    {
        _v1.AddCgroup(Unit);
        var driver = _v1.Driver();
        var e = Assert.Throws<CgroupLimitException>(() => driver.Validate(Declaring(key)));
        Assert.Equal(key, e.Key);
        Assert.Contains("needs cgroup v2", e.Message, StringComparison.Ordinal);
        Assert.Contains("only to cgroup v2 directories", e.Message, StringComparison.Ordinal);
        Assert.Contains("not started rather than run without the filter", e.Message, StringComparison.Ordinal);
        Assert.Throws<CgroupLimitException>(() => driver.Open(CgroupPath.ForUnit("web")).Create(Declaring(key)));
    }

    [Fact]
    public void On_v2_a_host_that_cannot_load_BPF_refuses_every_filtering_key_with_why()
    {
        var driver = CgroupDriver.Create(_v2.Layout(), FakeCgroupFs.Root, _v2.Options with { BpfSupport = () => "bpf(BPF_PROG_LOAD) failed with EPERM" });
        foreach (var key in (string[])[ResourceKeys.DevicePolicy, ResourceKeys.DeviceAllow, .. V2Only])
        {
            var e = Assert.Throws<CgroupLimitException>(() => driver.Validate(Declaring(key)));
            Assert.Equal(key, e.Key);
            Assert.EndsWith("cannot be enforced: bpf(BPF_PROG_LOAD) failed with EPERM", e.Message, StringComparison.Ordinal);
        }
        driver.Validate(new ResourceLimits { DevicePolicy = DevicePolicy.Auto }); // no program needed
    }

    [Fact]
    public void V2_attaches_a_device_program_and_both_firewall_programs_to_a_unit_but_no_firewall_to_a_slice()
    {
        _v2.AddCgroup("supervisor/a.slice/web.service");
        var driver = _v2.Driver();
        var limits = new ResourceLimits
        {
            DevicePolicy = DevicePolicy.Closed,
            IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0")],
            SocketBindDeny = [new SocketBindRule(SocketBindFamily.IPv6, SocketBindProtocol.Any, 0, 0)],
        };
        var unit = ((CgroupBase)driver.Open(CgroupPath.ForUnit("web", "a"))).Programs(limits);
        Assert.Equal(
        [
            (ResourceKeys.DevicePolicy, Libc.BPF_CGROUP_DEVICE, "sv_devices"),
            (ResourceKeys.IPAddressDeny, Libc.BPF_CGROUP_INET_INGRESS, "sv_fw_ingress"),
            (ResourceKeys.IPAddressDeny, Libc.BPF_CGROUP_INET_EGRESS, "sv_fw_egress"),
            (ResourceKeys.SocketBindDeny, Libc.BPF_CGROUP_INET4_BIND, null),   // no IPv4 rule: nothing attached
            (ResourceKeys.SocketBindDeny, Libc.BPF_CGROUP_INET6_BIND, "sv_bind6"),
        ], unit.Select(p => (p.Key, p.AttachType, p.Program?.Name)));
        var slice = ((CgroupBase)driver.Open(CgroupPath.ForSlice("a"))).Programs(limits);
        Assert.DoesNotContain(slice, p => p.Key == ResourceKeys.IPAddressDeny);
        Assert.Contains(slice, p => p.Program?.Name == "sv_devices");
    }

    [Fact]
    public void A_units_address_lists_include_its_slices_lists()
    {
        var slice = new ResourceLimits { IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0")] };
        var unit = new ResourceLimits { IPAddressAllow = [BpfProgramTests.Prefix("10.0.0.0/8")], MemoryMax = Limit.Of(1 << 30) };

        var combined = unit.WithSliceAddressLists([ResourceLimits.None, slice]);

        Assert.Equal(["10.0.0.0/8"], combined.IPAddressAllow!.Select(p => p.ToString()));
        Assert.Equal(["0.0.0.0/0"], combined.IPAddressDeny!.Select(p => p.ToString()));
        Assert.Equal(unit.MemoryMax, combined.MemoryMax);
        Assert.Same(unit, unit.WithSliceAddressLists([ResourceLimits.None]));
    }

    [Fact]
    public void Removing_the_address_or_bind_lists_live_detaches_their_programs()
    {
        var previous = new ResourceLimits { IPAddressDeny = [BpfProgramTests.Prefix("0.0.0.0/0")], SocketBindDeny = [SocketBindRule.Any], DevicePolicy = DevicePolicy.Strict };
        var reset = Defaults.ResetRemoved(ResourceLimits.None, previous, 2);
        _v2.AddCgroup(Unit);
        var programs = ((CgroupBase)_v2.Driver().Open(CgroupPath.ForUnit("web"))).Programs(reset);
        Assert.Equal(5, programs.Count);
        Assert.All(programs, p => Assert.Null(p.Program));
    }

    [Fact]
    public void Host_prefixes_lose_their_host_bits_and_compare_by_value()
    {
        Assert.Equal("10.1.0.0/16", BpfProgramTests.Prefix("10.1.2.3/16").ToString());
        Assert.Equal("fe80::/64", BpfProgramTests.Prefix("fe80::1:2/64").ToString());
        Assert.Equal(BpfProgramTests.Prefix("10.1.0.0/16"), BpfProgramTests.Prefix("10.1.9.9/16"));
        Assert.Equal("ipv4:tcp:80-90", new SocketBindRule(SocketBindFamily.IPv4, SocketBindProtocol.Tcp, 80, 11).ToString());
        Assert.Equal("any", SocketBindRule.Any.ToString());
    }

    /// <summary>For the v1 every-key test: the device keys write the devices controller, the BPF-only keys refuse the unit.</summary>
    internal static IEnumerable<string> HandledOnV1(FakeCgroupFs fake)
    {
        fake.AddCgroup(Unit);
        var cg = (CgroupBase)fake.Driver().Open(CgroupPath.ForUnit("web"));
        foreach (var key in (string[])[ResourceKeys.DevicePolicy, ResourceKeys.DeviceAllow])
        {
            Assert.Equal(key, Assert.Single(cg.Settings(Declaring(key))).Key);
            yield return key;
        }
        foreach (var key in V2Only)
        {
            var driver = fake.Driver();
            Assert.Equal(key, Assert.Throws<CgroupLimitException>(() => driver.Validate(Declaring(key))).Key);
            yield return key;
        }
    }

    /// <summary>For the v2 every-key test: each key makes a program setting of its own name.</summary>
    internal static IEnumerable<string> HandledOnV2(FakeCgroupFs fake)
    {
        fake.AddCgroup(Unit);
        var cg = (CgroupBase)fake.Driver().Open(CgroupPath.ForUnit("web"));
        foreach (var key in (string[])[ResourceKeys.DevicePolicy, ResourceKeys.DeviceAllow, .. V2Only])
        {
            Assert.Contains(cg.Programs(Declaring(key)), p => p.Key == key && p.Program is not null);
            yield return key;
        }
    }
}
