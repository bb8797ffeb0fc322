using System.Buffers.Binary;
using Supervisor.Linux.Native;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>
/// Runs a seccomp classic-BPF program the way the kernel does, on a struct seccomp_data made from
/// (architecture, syscall number, arguments), and returns the SECCOMP_RET_* value. The compiler
/// checks with it that libseccomp's output does what each directive means (libseccomp orders
/// overlapping rules by its own priorities), and tests use it to read a filter without a process.
/// </summary>
public static class SeccompEvaluator
{
    private const int DataSize = 64;

    /// <summary>
    /// The seccomp_data.arch a call of libseccomp's ABI token carries: the same value, except x32,
    /// whose calls arrive as AUDIT_ARCH_X86_64 with bit 30 set in the number (which libseccomp's
    /// x32 numbers already have).
    /// </summary>
    public static uint DataArch(uint abi) => abi == Libseccomp.ArchX32 ? Libseccomp.ArchX86_64 : abi; // sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]

    public static uint Run(ReadOnlySpan<byte> program, uint arch, int nr, ReadOnlySpan<ulong> args)
    {
        if (program.Length == 0 || program.Length % 8 != 0)
            throw new ArgumentException($"a BPF program is whole 8-byte instructions, got {program.Length} bytes");
        Span<byte> data = stackalloc byte[DataSize];
        data.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], arch);
        for (int i = 0; i < args.Length && i < 6; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * i)..], args[i]);

        uint a = 0, x = 0;
        Span<uint> mem = stackalloc uint[16];
        mem.Clear();
        int count = program.Length / 8;
        for (int pc = 0; pc < count; pc++)
        {
            var insn = program.Slice(pc * 8, 8);
            ushort code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
            byte jt = insn[2], jf = insn[3];
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
            switch (code & 0x07)
            {
                case 0x00: a = Load(code, k, data, mem); break;                 // BPF_LD
                case 0x01: x = Load(code, k, data, mem); break;                 // BPF_LDX
                case 0x02: mem[(int)(k & 15)] = a; break;                       // BPF_ST
                case 0x03: mem[(int)(k & 15)] = x; break;                       // BPF_STX
                case 0x04: a = Alu(code, a, (code & 0x08) != 0 ? x : k); break; // BPF_ALU
                case 0x05: pc += Jump(code, a, (code & 0x08) != 0 ? x : k, k, jt, jf); break; // BPF_JMP
                case 0x06: return (code & 0x18) == 0x10 ? a : k;                // BPF_RET (A or K)
                default:                                                        // BPF_MISC
                    if ((code & 0xf8) == 0x00) x = a;                           // TAX
                    else a = x;                                                 // TXA
                    break;
            }
        }
        throw new InvalidOperationException("the seccomp program ran past its last instruction without returning");
    }

    private static uint Load(ushort code, uint k, ReadOnlySpan<byte> data, ReadOnlySpan<uint> mem) => (code & 0xe0) switch
    {
        0x00 => k,                                                     // BPF_IMM
        0x20 when (code & 0x18) == 0 && k % 4 == 0 && k < DataSize     // BPF_ABS, 32-bit: the only load seccomp allows
            => BinaryPrimitives.ReadUInt32LittleEndian(data[(int)k..]),
        0x60 => mem[(int)(k & 15)],                                    // BPF_MEM
        0x80 => DataSize,                                              // BPF_LEN
        _ => throw new InvalidOperationException($"the seccomp program loads with code 0x{code:x4} at offset {k}, which the kernel refuses"),
    };

    private static uint Alu(ushort code, uint a, uint operand) => (code & 0xf0) switch
    {
        0x00 => a + operand,
        0x10 => a - operand,
        0x20 => a * operand,
        0x30 => operand == 0 ? 0 : a / operand,
        0x40 => a | operand,
        0x50 => a & operand,
        0x60 => operand >= 32 ? 0 : a << (int)operand,
        0x70 => operand >= 32 ? 0 : a >> (int)operand,
        0x80 => (uint)-(int)a,
        0x90 => operand == 0 ? 0 : a % operand,
        0xa0 => a ^ operand,
        _ => throw new InvalidOperationException($"unknown BPF ALU code 0x{code:x4}"),
    };

    /// <summary>How many instructions to skip after this one.</summary>
    private static int Jump(ushort code, uint a, uint operand, uint k, byte jt, byte jf) => (code & 0xf0) switch
    {
        0x00 => (int)k,                             // BPF_JA
        0x10 => a == operand ? jt : jf,             // BPF_JEQ
        0x20 => a > operand ? jt : jf,              // BPF_JGT
        0x30 => a >= operand ? jt : jf,             // BPF_JGE
        0x40 => (a & operand) != 0 ? jt : jf,       // BPF_JSET
        _ => throw new InvalidOperationException($"unknown BPF jump code 0x{code:x4}"),
    };
}
