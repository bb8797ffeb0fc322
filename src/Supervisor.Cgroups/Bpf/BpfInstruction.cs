using System.Buffers.Binary;
using System.Globalization;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// One eBPF instruction, as the kernel takes it (struct bpf_insn: opcode, dst and src register in
/// one byte, 16-bit offset, 32-bit immediate, little-endian on the hosts we run on), and its text
/// in the kernel verifier's notation, for error messages and tests.
/// </summary>
internal readonly record struct BpfInstruction(byte Code, byte Dst, byte Src, short Off, int Imm)
{
    public const int Size = 8;

    // Instruction classes.
    public const byte Ld = 0x00, Ldx = 0x01, St = 0x02, Stx = 0x03, Alu = 0x04, Jmp = 0x05, Alu64 = 0x07;

    // Memory access sizes and modes.
    public const byte W = 0x00, H = 0x08, B = 0x10, DW = 0x18;
    public const byte ModeImm = 0x00, ModeMem = 0x60;

    // Source operand: immediate (K) or register (X); for Alu|End: to big endian.
    public const byte K = 0x00, X = 0x08, ToBe = 0x08;

    // ALU operations.
    public const byte Add = 0x00, Or = 0x40, And = 0x50, Rsh = 0x70, Mov = 0xb0, End = 0xd0;

    // Jump operations.
    public const byte Ja = 0x00, Jeq = 0x10, Jgt = 0x20, Jne = 0x50, Call = 0x80, Exit = 0x90, Jlt = 0xa0;

    /// <summary>src_reg of a 64-bit immediate load whose immediate is a map fd.</summary>
    public const byte PseudoMapFd = 1;

    public byte Class => (byte)(Code & 0x07);

    public byte Operation => (byte)(Code & 0xf0);

    public bool IsLoadImm64 => Code == (Ld | DW | ModeImm);

    public void Write(Span<byte> into)
    {
        into[0] = Code;
        into[1] = (byte)((Src << 4) | (Dst & 0x0f));
        BinaryPrimitives.WriteInt16LittleEndian(into[2..], Off);
        BinaryPrimitives.WriteInt32LittleEndian(into[4..], Imm);
    }

    public static BpfInstruction Read(ReadOnlySpan<byte> from) =>
        new(from[0], (byte)(from[1] & 0x0f), (byte)(from[1] >> 4), BinaryPrimitives.ReadInt16LittleEndian(from[2..]), BinaryPrimitives.ReadInt32LittleEndian(from[4..]));

    /// <summary>Every instruction of an encoded program.</summary>
    public static IReadOnlyList<BpfInstruction> Decode(ReadOnlySpan<byte> program)
    {
        if (program.Length % Size != 0)
        {
            throw new ArgumentException($"a BPF program is a whole number of {Size}-byte instructions, got {program.Length} bytes", nameof(program));
        }
        var list = new List<BpfInstruction>(program.Length / Size);
        for (int i = 0; i < program.Length; i += Size)
        {
            list.Add(Read(program[i..]));
        }
        return list;
    }

    public override string ToString() => Class switch
    {
        Alu or Alu64 => AluText(),
        Jmp => JumpText(),
        Ldx => $"r{Dst} = *({SizeName}*)(r{Src} {Signed(Off)})",
        St => $"*({SizeName}*)(r{Dst} {Signed(Off)}) = {Imm.ToString(CultureInfo.InvariantCulture)}",
        Stx => $"*({SizeName}*)(r{Dst} {Signed(Off)}) = r{Src}",
        Ld when IsLoadImm64 => Src == PseudoMapFd ? $"r{Dst} = map_fd {Imm.ToString(CultureInfo.InvariantCulture)} ll" : $"r{Dst} = {Imm.ToString(CultureInfo.InvariantCulture)} ll",
        Ld when Code == 0 => $"(second half of a 64-bit load: {Imm.ToString(CultureInfo.InvariantCulture)})",
        _ => $"(code 0x{Code:x2} dst r{Dst} src r{Src} off {Off} imm {Imm})",
    };

    private string SizeName => (Code & 0x18) switch { W => "u32", H => "u16", B => "u8", _ => "u64" };

    private static string Signed(int v) => v < 0 ? $"- {(-v).ToString(CultureInfo.InvariantCulture)}" : $"+ {v.ToString(CultureInfo.InvariantCulture)}";

    private string AluText()
    {
        var reg = Class == Alu ? "w" : "r";
        var operand = (Code & X) != 0 ? $"{reg}{Src}" : Imm.ToString(CultureInfo.InvariantCulture);
        if (Operation == End)
        {
            return $"r{Dst} = {((Code & ToBe) != 0 ? "be" : "le")}{Imm.ToString(CultureInfo.InvariantCulture)} r{Dst}";
        }
        var op = Operation switch { Add => "+=", Or => "|=", And => "&=", Rsh => ">>=", Mov => "=", _ => $"(alu op 0x{Operation:x2})" };
        return $"{reg}{Dst} {op} {operand}";
    }

    private string JumpText()
    {
        if (Operation == Exit)
        {
            return "exit";
        }
        if (Operation == Call)
        {
            return $"call {Imm.ToString(CultureInfo.InvariantCulture)}";
        }
        var target = $"goto {Signed(Off)}";
        if (Operation == Ja)
        {
            return target;
        }
        var op = Operation switch { Jeq => "==", Jne => "!=", Jgt => ">", Jlt => "<", _ => $"(jmp op 0x{Operation:x2})" };
        var operand = (Code & X) != 0 ? $"r{Src}" : Imm.ToString(CultureInfo.InvariantCulture);
        return $"if r{Dst} {op} {operand} {target}";
    }
}
