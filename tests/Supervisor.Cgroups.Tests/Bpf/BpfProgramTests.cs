using System.Net;
using Supervisor.Cgroups.Bpf;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Tests.Bpf;

/// <summary>
/// The generated programs, decoded instruction by instruction and compared with what each rule is
/// meant to test; then, as root, loaded into this kernel (its verifier accepts them and reports the
/// tag we compute) and, where the kernel can run a program type on a made-up input
/// (BPF_PROG_TEST_RUN: the packet filter), run on packets.
/// </summary>
public sealed class BpfProgramTests
{
    private static IReadOnlyList<string> Text(BpfProgram p) => BpfInstruction.Decode(p.Encode(p.Maps.Select((_, i) => 100 + i).ToArray())).Select(i => i.ToString()).ToList();

    [Fact]
    public void Device_program_checks_access_type_major_and_minor_of_each_allowed_device_and_denies_the_rest()
    {
        var program = DeviceProgram.Build([new DeviceRule('b', 7, 0, DeviceAccess.Read), new DeviceRule('c', 136, null, DeviceAccess.All)]);

        Assert.Equal(
        [
            "r2 = *(u32*)(r1 + 0)", "w2 &= 65535",          // device type
            "r3 = *(u32*)(r1 + 0)", "w3 >>= 16",            // requested access
            "r4 = *(u32*)(r1 + 4)",                         // major
            "r5 = *(u32*)(r1 + 8)",                         // minor
            // b 7:0 r: the request may ask for read only (req & r == req), then type, major, minor.
            "w1 = w3", "w1 &= 2", "if r1 != r3 goto + 4",
            "if r2 != 1 goto + 3", "if r4 != 7 goto + 2", "if r5 != 0 goto + 1", "goto + 5",
            // c 136:* rwm: any access, so only type and major.
            "if r2 != 2 goto + 2", "if r4 != 136 goto + 1", "goto + 2",
            "r0 = 0", "exit",                               // nothing matched: deny
            "r0 = 1", "exit",                               // allow
        ], Text(program));
        Assert.Equal(Libc.BPF_PROG_TYPE_CGROUP_DEVICE, program.ProgramType);
        Assert.Equal(Libc.BPF_CGROUP_DEVICE, program.AttachType);
    }

    [Fact]
    public void Device_program_without_rules_denies_everything()
    {
        Assert.Equal(["r0 = 0", "exit"], Text(DeviceProgram.Build([])));
    }

    [Fact]
    public void Bind_program_tries_allow_rules_before_deny_rules_and_compares_protocol_and_port_range()
    {
        var program = SocketBindProgram.Build(v6: false,
            allow: [new SocketBindRule(SocketBindFamily.IPv4, SocketBindProtocol.Tcp, 8080, 1), new SocketBindRule(SocketBindFamily.IPv6, SocketBindProtocol.Any, 1, 100)],
            deny: [SocketBindRule.Any]);

        Assert.Equal(
        [
            "r2 = *(u32*)(r1 + 0)",                          // user_family
            "r3 = *(u32*)(r1 + 36)",                         // protocol
            "r4 = *(u32*)(r1 + 24)", "r4 = be16 r4",         // user_port, to host order
            "if r2 != 2 goto + 5",                           // not AF_INET: not ours to judge
            // allow ipv4:tcp:8080 (the ipv6 rule is not in the IPv4 program)
            "if r3 != 6 goto + 3", "if r4 < 8080 goto + 2", "if r4 > 8080 goto + 1", "goto + 1",
            // deny any
            "goto + 2",
            "r0 = 1", "exit",
            "r0 = 0", "exit",
        ], Text(program));
        Assert.Equal(Libc.BPF_CGROUP_INET4_BIND, program.AttachType);
        Assert.False(SocketBindProgram.Concerns(v6: true, [], [new SocketBindRule(SocketBindFamily.IPv4, SocketBindProtocol.Any, 0, 0)]));
    }

    [Fact]
    public void Firewall_looks_each_address_up_in_its_list_and_drops_only_what_is_denied_and_not_allowed()
    {
        var maps = FirewallProgram.Maps(allow: [Prefix("127.0.0.0/8")], deny: [Prefix("0.0.0.0/0")]);
        var egress = FirewallProgram.Build(ingress: false, maps);
        var ingress = FirewallProgram.Build(ingress: true, maps);
        var ipv4 = FirewallProgram.EtherType(v6: false);

        string[] Lookup(int offset, int map, int verdict) =>
        [
            $"if r7 != {ipv4} goto + 14",
            "r1 = r6", $"w2 = {offset}", "r3 = r10", "r3 += -4", "w4 = 4", "call 26",      // skb_load_bytes(skb, offset, fp-4, 4)
            $"r1 = map_fd {map} ll", "(second half of a 64-bit load: 0)",
            "r2 = r10", "r2 += -8", "*(u32*)(r2 + 0) = 32",                                  // key { 32, address }
            "call 1", "if r0 == 0 goto + 1", $"w8 |= {verdict}",                            // map_lookup_elem
        ];
        string[] prologue = ["r6 = r1", "r7 = *(u32*)(r6 + 16)", "w8 = 0"];
        string[] verdict = ["r0 = 1", "if r8 != 2 goto + 1", "r0 = 0", "exit"];
        Assert.Equal([.. prologue, .. Lookup(16, 100, 2), .. Lookup(16, 101, 1), .. verdict], Text(egress));
        Assert.Equal([.. prologue, .. Lookup(12, 100, 2), .. Lookup(12, 101, 1), .. verdict], Text(ingress));
        Assert.Same(egress.Maps, ingress.Maps);
    }

    [Fact]
    public void Assembler_refuses_a_label_that_is_never_placed()
    {
        var asm = new BpfAssembler();
        asm.Goto(asm.NewLabel()).Exit();
        Assert.Throws<InvalidOperationException>(() => asm.Build());
    }

    [Fact]
    public void Kernel_accepts_each_program_and_the_tag_it_reports_tells_programs_apart()
    {
        RequireBpf();
        var maps = FirewallProgram.Maps([Prefix("127.0.0.0/8"), Prefix("::1/128")], [Prefix("0.0.0.0/0"), Prefix("::/0")]);
        BpfProgram[] programs =
        [
            DeviceProgram.Build([new DeviceRule('c', 1, 3, DeviceAccess.All), new DeviceRule('c', 136, null, DeviceAccess.Read | DeviceAccess.Write), new DeviceRule('b', null, null, DeviceAccess.Mknod)]),
            DeviceProgram.Build([]),
            FirewallProgram.Build(ingress: true, maps),
            FirewallProgram.Build(ingress: false, maps),
            SocketBindProgram.Build(v6: false, [new SocketBindRule(SocketBindFamily.Any, SocketBindProtocol.Tcp, 8000, 100)], [SocketBindRule.Any]),
            SocketBindProgram.Build(v6: true, [], [new SocketBindRule(SocketBindFamily.IPv6, SocketBindProtocol.Udp, 53, 1)]),
        ];
        var mapFds = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
        var tags = new List<ulong>();
        try
        {
            foreach (var program in programs)
            {
                using var fd = BpfObjects.Load(program, mapFds);
                var mapIds = new uint[8];
                Assert.Equal(0, Libc.BpfProgGetInfo(fd.Fd, out var info, mapIds));
                Assert.Equal(info.Tag, BpfObjects.TagOf(program));
                Assert.Equal(program.Name, info.Name);
                Assert.Equal((uint)program.Maps.Count, info.MapIds);
                tags.Add(info.Tag);
            }
            // Map fds differ between loads, the tag does not; different instructions, different tags.
            var otherMaps = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
            using (var again = BpfObjects.Load(programs[2], otherMaps))
            {
                Libc.BpfProgGetInfo(again.Fd, out var info, []);
                Assert.Equal(BpfObjects.TagOf(programs[2]), info.Tag);
            }
            foreach (var fd in otherMaps.Values)
            {
                fd.Dispose();
            }
            Assert.Equal(programs.Length, tags.Distinct().Count());
        }
        finally
        {
            foreach (var fd in mapFds.Values)
            {
                fd.Dispose();
            }
        }
    }

    public static TheoryData<bool, string, uint> Packets => new()
    {
        // egress: the destination is checked; ingress: the source.
        { false, "127.0.0.1", 1 },
        { false, "127.255.0.9", 1 },
        { false, "10.254.0.1", 0 },
        { false, "::1", 1 },
        { false, "2001:db8::1", 0 },
        { true, "127.0.0.1", 1 },
        { true, "192.0.2.7", 0 },
        { true, "fe80::1", 0 },
    };

    [Theory]
    [MemberData(nameof(Packets))]
    public void Firewall_run_on_packets_passes_localhost_and_drops_other_peers_when_any_is_denied(bool ingress, string peer, uint expected)
    {
        RequireBpf();
        var maps = FirewallProgram.Maps([Prefix("127.0.0.0/8"), Prefix("::1/128")], [Prefix("0.0.0.0/0"), Prefix("::/0")]);
        var program = FirewallProgram.Build(ingress, maps);
        var mapFds = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
        try
        {
            using var fd = BpfObjects.Load(program, mapFds);
            var address = IPAddress.Parse(peer);
            var local = IPAddress.Parse(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "2001:db8::99" : "198.51.100.99");
            var packet = ingress ? Packet(source: address, destination: local) : Packet(source: local, destination: address);
            Assert.Equal(0, Libc.BpfProgTestRun(fd.Fd, packet, out var verdict));
            Assert.Equal(expected, verdict);
        }
        finally
        {
            foreach (var fd in mapFds.Values)
            {
                fd.Dispose();
            }
        }
    }

    [Fact]
    public void Firewall_lets_an_allowed_address_through_even_when_a_longer_deny_prefix_covers_it()
    {
        RequireBpf();
        // systemd's rule: any allow match wins, whatever the prefix lengths.
        var maps = FirewallProgram.Maps([Prefix("10.0.0.0/8")], [Prefix("10.1.0.0/16")]);
        var mapFds = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
        try
        {
            using var fd = BpfObjects.Load(FirewallProgram.Build(ingress: false, maps), mapFds);
            Assert.Equal(0, Libc.BpfProgTestRun(fd.Fd, Packet(IPAddress.Parse("198.51.100.1"), IPAddress.Parse("10.1.2.3")), out var verdict));
            Assert.Equal(1u, verdict);
        }
        finally
        {
            foreach (var fd in mapFds.Values)
            {
                fd.Dispose();
            }
        }
    }

    internal static IpPrefix Prefix(string text)
    {
        var parts = text.Split('/');
        return new IpPrefix(IPAddress.Parse(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>An Ethernet frame with an IPv4 or IPv6 header (UDP, no payload): what BPF_PROG_TEST_RUN hands a CGROUP_SKB program.</summary>
    private static byte[] Packet(IPAddress source, IPAddress destination)
    {
        bool v6 = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        var ip = new byte[v6 ? 40 : 20];
        if (v6)
        {
            ip[0] = 0x60;
            ip[6] = 17; // next header: UDP
            ip[7] = 64;
            source.GetAddressBytes().CopyTo(ip, 8);
            destination.GetAddressBytes().CopyTo(ip, 24);
        }
        else
        {
            ip[0] = 0x45;
            ip[3] = 20; // total length
            ip[8] = 64;
            ip[9] = 17;
            source.GetAddressBytes().CopyTo(ip, 12);
            destination.GetAddressBytes().CopyTo(ip, 16);
        }
        var frame = new byte[14 + ip.Length];
        frame[12] = v6 ? (byte)0x86 : (byte)0x08;
        frame[13] = v6 ? (byte)0xDD : (byte)0x00;
        ip.CopyTo(frame, 14);
        return frame;
    }

    internal static void RequireBpf()
    {
        if (Libc.GetEuid() != 0)
        {
            Assert.Skip("needs root to load BPF programs");
        }
        if (BpfSupport.Probe() is { } why)
        {
            Assert.Skip(why);
        }
    }
}
