using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// SocketBindAllow/SocketBindDeny as BPF_PROG_TYPE_CGROUP_SOCK_ADDR programs on bind(2), one per
/// address family (BPF_CGROUP_INET4_BIND, BPF_CGROUP_INET6_BIND), with systemd's rule from
/// socket-bind.bpf.c: a bind matching an allow rule is allowed; otherwise one matching a deny rule
/// fails with EPERM; otherwise it is allowed. The rules are compiled into the instructions (no
/// map): each compares the address family, the protocol and the port the caller asked for.
/// </summary>
internal static class SocketBindProgram
{
    // struct bpf_sock_addr.
    private const short UserFamilyOffset = 0;
    private const short UserPortOffset = 24;
    private const short ProtocolOffset = 36;

    private const int AF_INET = 2, AF_INET6 = 10;
    private const int IPPROTO_TCP = 6, IPPROTO_UDP = 17;

    private const int RFamily = 2, RProtocol = 3, RPort = 4;

    /// <summary>The rules that concern <paramref name="v6"/>'s family; none in either list: no program is needed.</summary>
    public static bool Concerns(bool v6, IReadOnlyList<SocketBindRule> allow, IReadOnlyList<SocketBindRule> deny) =>
        allow.Concat(deny).Any(r => Applies(r, v6));

    private static bool Applies(SocketBindRule rule, bool v6) =>
        rule.Family == SocketBindFamily.Any || rule.Family == (v6 ? SocketBindFamily.IPv6 : SocketBindFamily.IPv4);

    public static BpfProgram Build(bool v6, IReadOnlyList<SocketBindRule> allow, IReadOnlyList<SocketBindRule> deny)
    {
        var asm = new BpfAssembler();
        var pass = asm.NewLabel();
        var refuse = asm.NewLabel();
        var ownAllow = allow.Where(r => Applies(r, v6)).ToList();
        var ownDeny = deny.Where(r => Applies(r, v6)).ToList();
        // The port is in network byte order in the low 16 bits of user_port.
        asm.LoadWord(RFamily, 1, UserFamilyOffset)
           .LoadWord(RProtocol, 1, ProtocolOffset)
           .LoadWord(RPort, 1, UserPortOffset).BigEndian16(RPort)
           .JumpIf(BpfInstruction.Jne, RFamily, v6 ? AF_INET6 : AF_INET, pass);
        foreach (var rule in ownAllow)
        {
            Rule(asm, rule, pass);
        }
        foreach (var rule in ownDeny)
        {
            Rule(asm, rule, refuse);
        }
        asm.Mark(pass).Mov64(0, 1).Exit()
           .Mark(refuse).Mov64(0, 0).Exit();
        var (code, _) = asm.Build();
        return new BpfProgram
        {
            Name = v6 ? "sv_bind6" : "sv_bind4",
            ProgramType = Libc.BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            AttachType = v6 ? Libc.BPF_CGROUP_INET6_BIND : Libc.BPF_CGROUP_INET4_BIND,
            Code = code,
            Description = $"{(v6 ? "IPv6" : "IPv4")} bind: allow {Text(ownAllow)}; deny {Text(ownDeny)}",
        };
    }

    private static string Text(List<SocketBindRule> rules) => rules.Count == 0 ? "nothing" : string.Join(' ', rules);

    /// <summary>Every condition the rule has must hold, else on to the next rule; all hold: go to <paramref name="verdict"/>.</summary>
    private static void Rule(BpfAssembler asm, SocketBindRule rule, BpfAssembler.Label verdict)
    {
        var next = asm.NewLabel();
        if (rule.Protocol != SocketBindProtocol.Any)
        {
            asm.JumpIf(BpfInstruction.Jne, RProtocol, rule.Protocol == SocketBindProtocol.Tcp ? IPPROTO_TCP : IPPROTO_UDP, next);
        }
        if (rule.PortCount > 0)
        {
            asm.JumpIf(BpfInstruction.Jlt, RPort, rule.PortMin, next)
               .JumpIf(BpfInstruction.Jgt, RPort, rule.PortMax, next);
        }
        asm.Goto(verdict).Mark(next);
    }
}
