using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>
/// libseccomp.so.2, the library systemd, runc and podman use: it knows every architecture's
/// syscall numbers and emits correct BPF. Loaded only in the supervisor; the helper just loads
/// the bytes.
/// </summary>
public static unsafe partial class Libseccomp
{
    private const string Lib = "libseccomp.so.2";

    public const int NrScmpError = -1; // __NR_SCMP_ERROR
    public const int FltAtrActBadArch = 2; // SCMP_FLTATR_ACT_BADARCH
    public const int FltAtrCtlNnp = 3;     // SCMP_FLTATR_CTL_NNP

    public const uint ArchNative = 0;
    public const uint ArchX86 = 0x40000003;    // AUDIT_ARCH_I386
    public const uint ArchX86_64 = 0xC000003E; // AUDIT_ARCH_X86_64
    public const uint ArchX32 = 0x4000003E;    // EM_X86_64 | __AUDIT_ARCH_LE, no 64-bit flag
    public const uint ArchAarch64 = 0xC00000B7;
    public const uint ArchArm = 0x40000028;

    [StructLayout(LayoutKind.Sequential)]
    public struct ArgCmp
    {
        public uint Arg;
        public int Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    [LibraryImport(Lib, EntryPoint = "seccomp_init", SetLastError = true)]
    public static partial SafeSeccompContext Init(uint defaultAction);

    [LibraryImport(Lib, EntryPoint = "seccomp_release")]
    public static partial void Release(nint ctx);

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_add")]
    public static partial int ArchAdd(SafeSeccompContext ctx, uint arch);

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_remove")]
    public static partial int ArchRemove(SafeSeccompContext ctx, uint arch);

    /// <summary>Moves src's ABIs and rules into dst; on success src is released by libseccomp and must not be used again.</summary>
    [LibraryImport(Lib, EntryPoint = "seccomp_merge")]
    public static partial int Merge(SafeSeccompContext dst, SafeSeccompContext src);

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_native")]
    public static partial uint NativeArch();

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_exist")]
    public static partial int ArchExist(SafeSeccompContext ctx, uint arch);

    [LibraryImport(Lib, EntryPoint = "seccomp_attr_set")]
    public static partial int AttrSet(SafeSeccompContext ctx, int attr, uint value);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_name_arch", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SyscallResolveNameArch(uint arch, string name);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SyscallResolveName(string name);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_num_arch")]
    private static partial byte* seccomp_syscall_resolve_num_arch(uint arch, int num);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void free(void* pointer);

    /// <summary>The name of system call <paramref name="nr"/> on ABI <paramref name="arch"/> (an AUDIT_ARCH value); null if libseccomp has none.</summary>
    public static string? SyscallResolveNumArch(uint arch, int nr)
    {
        byte* name = seccomp_syscall_resolve_num_arch(arch, nr);
        if (name == null) return null;
        try
        {
            return Marshal.PtrToStringUTF8((nint)name);
        }
        finally
        {
            free(name);
        }
    }

    [LibraryImport(Lib, EntryPoint = "seccomp_rule_add_array")]
    private static partial int seccomp_rule_add_array(SafeSeccompContext ctx, uint action, int syscall, uint argCount, ArgCmp* args);

    /// <summary>seccomp_rule_add_array with the comparisons as a span (none: an unconditional rule).</summary>
    public static int RuleAddArray(SafeSeccompContext ctx, uint action, int syscall, ReadOnlySpan<ArgCmp> args)
    {
        fixed (ArgCmp* a = args)
            return seccomp_rule_add_array(ctx, action, syscall, (uint)args.Length, args.IsEmpty ? null : a);
    }

    [LibraryImport(Lib, EntryPoint = "seccomp_export_bpf")]
    public static partial int ExportBpf(SafeSeccompContext ctx, int fd);
}

/// <summary>An scmp_filter_ctx, released with seccomp_release.</summary>
public sealed class SafeSeccompContext : SafeHandle
{
    public SafeSeccompContext() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Libseccomp.Release(handle);
        return true;
    }
}
