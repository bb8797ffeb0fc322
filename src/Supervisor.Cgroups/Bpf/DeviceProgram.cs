using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// The cgroup v2 device filter (BPF_PROG_TYPE_CGROUP_DEVICE): the kernel runs it on every open and
/// mknod of a device node by a process of the cgroup, and the access is refused (EPERM) unless it
/// returns 1. The shape is systemd's bpf-devices.c: load the request once, then one block per
/// allowed device that jumps to "allow" when type, major, minor and access all match; falling
/// off the end denies.
/// </summary>
internal static class DeviceProgram
{
    // struct bpf_cgroup_dev_ctx: access_type (device type in the low 16 bits, access in the high
    // 16), major, minor.
    private const short AccessTypeOffset = 0;
    private const short MajorOffset = 4;
    private const short MinorOffset = 8;

    // BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_*.
    internal const int DevBlock = 1;
    internal const int DevChar = 2;
    internal const int AccMknod = 1;
    internal const int AccRead = 2;
    internal const int AccWrite = 4;

    private const int RType = 2, RAccess = 3, RMajor = 4, RMinor = 5, RScratch = 1;

    /// <param name="rules">The devices allowed; none: every device is refused.</param>
    public static BpfProgram Build(IReadOnlyList<DeviceRule> rules)
    {
        var asm = new BpfAssembler();
        var allow = asm.NewLabel();
        if (rules.Count > 0)
        {
            asm.LoadWord(RType, 1, AccessTypeOffset).And32(RType, 0xFFFF)
               .LoadWord(RAccess, 1, AccessTypeOffset).Rsh32(RAccess, 16)
               .LoadWord(RMajor, 1, MajorOffset)
               .LoadWord(RMinor, 1, MinorOffset);
            foreach (var rule in rules)
            {
                Rule(asm, rule, allow);
            }
        }
        asm.Mov64(0, 0).Exit();
        if (rules.Count > 0)
        {
            asm.Mark(allow).Mov64(0, 1).Exit();
        }
        var (code, _) = asm.Build();
        return new BpfProgram
        {
            Name = "sv_devices",
            ProgramType = Libc.BPF_PROG_TYPE_CGROUP_DEVICE,
            AttachType = Libc.BPF_CGROUP_DEVICE,
            Code = code,
            Description = Describe(rules),
        };
    }

    public static string Describe(IReadOnlyList<DeviceRule> rules) =>
        rules.Count == 0 ? "every device denied" : $"devices denied except {rules.Count} allowed ({string.Join(", ", rules.Take(3))}{(rules.Count > 3 ? ", …" : "")})";

    /// <summary>One allowed device: every comparison that fails skips to the next block.</summary>
    private static void Rule(BpfAssembler asm, DeviceRule rule, BpfAssembler.Label allow)
    {
        var next = asm.NewLabel();
        int access = ((rule.Access & DeviceAccess.Read) != 0 ? AccRead : 0)
            | ((rule.Access & DeviceAccess.Write) != 0 ? AccWrite : 0)
            | ((rule.Access & DeviceAccess.Mknod) != 0 ? AccMknod : 0);
        if (rule.Access != DeviceAccess.All)
        {
            // The request's access bits must all be among the allowed ones: (req & allowed) == req.
            asm.Mov32Reg(RScratch, RAccess).And32(RScratch, access)
               .JumpIfReg(BpfInstruction.Jne, RScratch, RAccess, next);
        }
        asm.JumpIf(BpfInstruction.Jne, RType, rule.Type == 'c' ? DevChar : DevBlock, next);
        if (rule.Major is { } major)
        {
            asm.JumpIf(BpfInstruction.Jne, RMajor, (int)major, next);
        }
        if (rule.Minor is { } minor)
        {
            asm.JumpIf(BpfInstruction.Jne, RMinor, (int)minor, next);
        }
        asm.Goto(allow).Mark(next);
    }
}
