namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// Writes eBPF instructions one call each, with forward labels instead of counted jump offsets:
/// a jump to a label is fixed up when the label is placed, so a rule block can be added or
/// dropped without recounting the jumps around it. Register numbers follow the kernel ABI: r0
/// return value, r1–r5 arguments (clobbered by calls), r6–r9 kept across calls, r10 frame pointer.
/// </summary>
internal sealed class BpfAssembler
{
    private readonly List<BpfInstruction> _code = [];
    private readonly List<(int At, int Label)> _jumps = [];
    private readonly List<int?> _labels = [];
    private readonly List<(int At, int Slot)> _maps = [];

    /// <summary>A jump target, placed later with <see cref="Mark"/>.</summary>
    public readonly record struct Label(int Id);

    public Label NewLabel()
    {
        _labels.Add(null);
        return new Label(_labels.Count - 1);
    }

    /// <summary>The next instruction is where <paramref name="label"/> jumps to.</summary>
    public BpfAssembler Mark(Label label)
    {
        if (_labels[label.Id] is not null)
        {
            throw new InvalidOperationException($"label {label.Id} placed twice");
        }
        _labels[label.Id] = _code.Count;
        return this;
    }

    private BpfAssembler Emit(byte code, int dst = 0, int src = 0, short off = 0, int imm = 0)
    {
        _code.Add(new BpfInstruction(code, (byte)dst, (byte)src, off, imm));
        return this;
    }

    /// <summary>dst = *(u32 *)(src + off): a context field.</summary>
    public BpfAssembler LoadWord(int dst, int src, short off) => Emit(BpfInstruction.Ldx | BpfInstruction.ModeMem | BpfInstruction.W, dst, src, off);

    /// <summary>*(u32 *)(dst + off) = imm.</summary>
    public BpfAssembler StoreWord(int dst, short off, int imm) => Emit(BpfInstruction.St | BpfInstruction.ModeMem | BpfInstruction.W, dst, 0, off, imm);

    /// <summary>dst = imm (64-bit register, sign-extended immediate).</summary>
    public BpfAssembler Mov64(int dst, int imm) => Emit(BpfInstruction.Alu64 | BpfInstruction.Mov | BpfInstruction.K, dst, imm: imm);

    /// <summary>dst = src (64-bit).</summary>
    public BpfAssembler Mov64Reg(int dst, int src) => Emit(BpfInstruction.Alu64 | BpfInstruction.Mov | BpfInstruction.X, dst, src);

    /// <summary>dst = imm (32-bit: the upper half is cleared).</summary>
    public BpfAssembler Mov32(int dst, int imm) => Emit(BpfInstruction.Alu | BpfInstruction.Mov | BpfInstruction.K, dst, imm: imm);

    /// <summary>dst = src (32-bit).</summary>
    public BpfAssembler Mov32Reg(int dst, int src) => Emit(BpfInstruction.Alu | BpfInstruction.Mov | BpfInstruction.X, dst, src);

    /// <summary>dst += imm (64-bit), e.g. a stack address from r10.</summary>
    public BpfAssembler Add64(int dst, int imm) => Emit(BpfInstruction.Alu64 | BpfInstruction.Add | BpfInstruction.K, dst, imm: imm);

    public BpfAssembler And32(int dst, int imm) => Emit(BpfInstruction.Alu | BpfInstruction.And | BpfInstruction.K, dst, imm: imm);

    public BpfAssembler Or32(int dst, int imm) => Emit(BpfInstruction.Alu | BpfInstruction.Or | BpfInstruction.K, dst, imm: imm);

    public BpfAssembler Rsh32(int dst, int imm) => Emit(BpfInstruction.Alu | BpfInstruction.Rsh | BpfInstruction.K, dst, imm: imm);

    /// <summary>dst = the low 16 bits of dst read as big endian (network to host order on this host).</summary>
    public BpfAssembler BigEndian16(int dst) => Emit(BpfInstruction.Alu | BpfInstruction.End | BpfInstruction.ToBe, dst, imm: 16);

    /// <summary>dst = the map in slot <paramref name="slot"/> (a 64-bit immediate load; the fd goes in at load time).</summary>
    public BpfAssembler LoadMap(int dst, int slot)
    {
        _maps.Add((_code.Count, slot));
        Emit(BpfInstruction.Ld | BpfInstruction.DW | BpfInstruction.ModeImm, dst, BpfInstruction.PseudoMapFd, imm: slot);
        return Emit(0);
    }

    public BpfAssembler Call(int helper) => Emit(BpfInstruction.Jmp | BpfInstruction.Call, imm: helper);

    public BpfAssembler Exit() => Emit(BpfInstruction.Jmp | BpfInstruction.Exit);

    public BpfAssembler Goto(Label target) => Jump(BpfInstruction.Ja, 0, 0, target);

    /// <summary>if (reg OP imm) goto target, OP one of Jeq, Jne, Jgt, Jlt (unsigned, 64-bit).</summary>
    public BpfAssembler JumpIf(byte op, int reg, int imm, Label target) => Jump(op, reg, imm, target);

    /// <summary>if (dst OP src) goto target.</summary>
    public BpfAssembler JumpIfReg(byte op, int dst, int src, Label target)
    {
        _jumps.Add((_code.Count, target.Id));
        return Emit((byte)(BpfInstruction.Jmp | op | BpfInstruction.X), dst, src);
    }

    private BpfAssembler Jump(byte op, int reg, int imm, Label target)
    {
        _jumps.Add((_code.Count, target.Id));
        return Emit((byte)(BpfInstruction.Jmp | op | BpfInstruction.K), reg, imm: imm);
    }

    /// <summary>The program, every label resolved. Map loads keep their slot number as immediate.</summary>
    public (IReadOnlyList<BpfInstruction> Code, IReadOnlyList<(int At, int Slot)> Maps) Build()
    {
        var code = _code.ToArray();
        foreach (var (at, label) in _jumps)
        {
            var target = _labels[label] ?? throw new InvalidOperationException($"label {label} used but never placed");
            var offset = target - at - 1;
            if (offset < 0 || offset > short.MaxValue)
            {
                throw new InvalidOperationException($"jump at {at} to {target} is not a forward jump within {short.MaxValue} instructions");
            }
            code[at] = code[at] with { Off = (short)offset };
        }
        return (code, _maps.ToArray());
    }
}
