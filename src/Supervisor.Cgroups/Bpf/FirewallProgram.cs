using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// IPAddressAllow/IPAddressDeny as two BPF_PROG_TYPE_CGROUP_SKB programs, ingress (the packet's
/// source is checked) and egress (its destination), with systemd's rule from bpf-firewall.c: a
/// packet passes when its address is in an allow list; otherwise it is dropped when the address
/// is in a deny list; otherwise it passes. Each list is an LPM trie per address family; a lookup
/// that finds a prefix sets the list's bit in r8, and only "deny and not allow" drops.
/// </summary>
internal static class FirewallProgram
{
    public const uint Allowed = 1;
    public const uint Denied = 2;

    // struct __sk_buff: the packet's protocol (an Ethernet type, network byte order).
    private const short ProtocolOffset = 16;

    // Offsets in the IP header (the program sees the packet from its network header on).
    private const int Ipv4Source = 12, Ipv4Destination = 16, Ipv6Source = 8, Ipv6Destination = 24;

    // Kernel helpers (enum bpf_func_id).
    private const int MapLookupElem = 1, SkbLoadBytes = 26;

    private const int RSkb = 6, RProtocol = 7, RVerdict = 8, RFrame = 10;

    /// <summary>The maps of one unit's lists, shared by its ingress and egress programs.</summary>
    public static IReadOnlyList<LpmMap> Maps(IReadOnlyList<IpPrefix> allow, IReadOnlyList<IpPrefix> deny)
    {
        var maps = new List<LpmMap>();
        void Add(string name, bool v6, uint verdict, IReadOnlyList<IpPrefix> list)
        {
            var prefixes = list.Where(p => p.IsV6 == v6).Distinct().ToList();
            if (prefixes.Count > 0)
            {
                maps.Add(new LpmMap(name, v6, verdict, prefixes));
            }
        }
        // Deny lookups first, then allow, as systemd orders them; the order does not change the verdict.
        Add("sv_deny4", false, Denied, deny);
        Add("sv_deny6", true, Denied, deny);
        Add("sv_allow4", false, Allowed, allow);
        Add("sv_allow6", true, Allowed, allow);
        return maps;
    }

    public static BpfProgram Build(bool ingress, IReadOnlyList<LpmMap> maps)
    {
        var asm = new BpfAssembler()
            .Mov64Reg(RSkb, 1)
            .LoadWord(RProtocol, RSkb, ProtocolOffset)
            .Mov32(RVerdict, 0);
        for (int slot = 0; slot < maps.Count; slot++)
        {
            Lookup(asm, maps[slot], slot, ingress);
        }
        var exit = asm.NewLabel();
        asm.Mov64(0, 1)
           .JumpIf(BpfInstruction.Jne, RVerdict, (int)Denied, exit)
           .Mov64(0, 0)
           .Mark(exit).Exit();
        var (code, refs) = asm.Build();
        return new BpfProgram
        {
            Name = ingress ? "sv_fw_ingress" : "sv_fw_egress",
            ProgramType = Libc.BPF_PROG_TYPE_CGROUP_SKB,
            AttachType = ingress ? Libc.BPF_CGROUP_INET_INGRESS : Libc.BPF_CGROUP_INET_EGRESS,
            Code = code,
            MapRefs = refs,
            Maps = maps,
            Description = Describe(maps),
        };
    }

    public static string Describe(IReadOnlyList<LpmMap> maps)
    {
        int Count(uint verdict) => maps.Where(m => m.Verdict == verdict).Sum(m => m.Prefixes.Count);
        return $"{Count(Allowed)} allowed, {Count(Denied)} denied prefixes";
    }

    /// <summary>
    /// if (protocol matches) { load the address onto the stack; look it up as a full-length key; if
    /// found, r8 |= verdict }. The LPM key is { u32 prefix length; address }: r10-4-size.
    /// </summary>
    private static void Lookup(BpfAssembler asm, LpmMap map, int slot, bool ingress)
    {
        var skip = asm.NewLabel();
        int size = map.AddressBytes;
        int offset = map.V6 ? (ingress ? Ipv6Source : Ipv6Destination) : (ingress ? Ipv4Source : Ipv4Destination);
        asm.JumpIf(BpfInstruction.Jne, RProtocol, EtherType(map.V6), skip)
           .Mov64Reg(1, RSkb)
           .Mov32(2, offset)
           .Mov64Reg(3, RFrame).Add64(3, -size)
           .Mov32(4, size)
           .Call(SkbLoadBytes)
           .LoadMap(1, slot)
           .Mov64Reg(2, RFrame).Add64(2, -size - 4)
           .StoreWord(2, 0, size * 8)
           .Call(MapLookupElem)
           .JumpIf(BpfInstruction.Jeq, 0, 0, skip)
           .Or32(RVerdict, (int)map.Verdict)
           .Mark(skip);
    }

    /// <summary>ETH_P_IP / ETH_P_IPV6 as __sk_buff.protocol holds it: network byte order, read as a host integer.</summary>
    internal static int EtherType(bool v6)
    {
        ushort type = v6 ? (ushort)0x86DD : (ushort)0x0800;
        return BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(type) : type;
    }
}
