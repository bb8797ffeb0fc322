using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>Compiles a <see cref="SeccompFilterSpec"/> to BPF bytes with libseccomp.</summary>
public static class SeccompCompiler
{
    /// <summary>libseccomp's resolution of a name on the native arch: a syscall number, or null if it has none here.</summary>
    public static int? Resolve(string name)
    {
        int nr = Libseccomp.SyscallResolveNameArch(Libseccomp.ArchNative, name);
        // Negative values other than __NR_SCMP_ERROR are libseccomp's pseudo numbers for calls
        // that exist on other architectures only (cacheflush on x86_64, for example).
        return nr < 0 ? null : nr;
    }

    /// <summary>True if libseccomp knows the name on this machine's architecture.</summary>
    public static bool IsKnownOnThisArch(string name) => Resolve(name) is not null;

    /// <summary>The other ABIs this machine can run (x86_64: i386 and x32).</summary>
    public static IReadOnlyList<uint> SecondaryArchitectures() =>
        Libseccomp.NativeArch() == Libseccomp.ArchX86_64 ? [Libseccomp.ArchX86, Libseccomp.ArchX32] : [];

    public static byte[] Compile(SyscallListPolicy policy) => Compile(policy.ToSpec());

    public static byte[] Compile(SeccompFilterSpec spec)
    {
        if (spec.RulesByArch.Count > 0)
            return CompilePerArch(spec);
        using var ctx = NewContext(spec);
        foreach (var arch in spec.ExtraArchitectures)
        {
            if (Libseccomp.ArchExist(ctx, arch) == 0)
                continue;
            Check(Libseccomp.ArchAdd(ctx, arch), $"add architecture 0x{arch:x8}");
        }
        foreach (var rule in spec.Rules)
            AddRule(ctx, spec, rule);
        return Export(ctx);
    }

    private static SafeSeccompContext NewContext(SeccompFilterSpec spec)
    {
        var ctx = Libseccomp.Init(spec.DefaultAction.Value);
        if (ctx.IsInvalid)
            throw new SeccompCompileException($"cannot create a seccomp filter with default action {spec.DefaultAction}: libseccomp refused it");
        try
        {
            Check(Libseccomp.AttrSet(ctx, Libseccomp.FltAtrActBadArch, spec.BadArchAction.Value), $"set the bad-architecture action to {spec.BadArchAction}");
            // The helper sets no_new_privs itself when the plan says so; the exported BPF does not depend on this.
            Check(Libseccomp.AttrSet(ctx, Libseccomp.FltAtrCtlNnp, 0), "turn off libseccomp's own no_new_privs");
            return ctx;
        }
        catch
        {
            ctx.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One context per ABI, each with that ABI's rules, merged into one filter (seccomp_merge
    /// takes contexts with disjoint ABIs and equal attributes): the program still checks the
    /// architecture first and then runs that ABI's rules, as a single context would.
    /// </summary>
    private static byte[] CompilePerArch(SeccompFilterSpec spec)
    {
        uint native = Libseccomp.NativeArch();
        using var ctx = NewContext(spec);
        foreach (var rule in RulesFor(spec, native))
            AddRule(ctx, spec, rule);
        foreach (var arch in spec.ExtraArchitectures.Where(a => a != native).Distinct())
        {
            var sub = NewContext(spec);
            try
            {
                Check(Libseccomp.ArchRemove(sub, native), "remove the native architecture from a per-ABI filter");
                Check(Libseccomp.ArchAdd(sub, arch), $"add architecture 0x{arch:x8}");
                foreach (var rule in RulesFor(spec, arch))
                    AddRule(sub, spec, rule);
                Check(Libseccomp.Merge(ctx, sub), $"merge the rules of architecture 0x{arch:x8}");
                sub.SetHandleAsInvalid(); // libseccomp released it in the merge
            }
            finally
            {
                sub.Dispose();
            }
        }
        return Export(ctx);
    }

    private static IReadOnlyList<SeccompRule> RulesFor(SeccompFilterSpec spec, uint arch) =>
        spec.RulesByArch.TryGetValue(arch, out var rules) ? rules : spec.Rules;

    private static void AddRule(SafeSeccompContext ctx, SeccompFilterSpec spec, SeccompRule rule)
    {
        int nr = Libseccomp.SyscallResolveName(rule.Syscall);
        if (nr == Libseccomp.NrScmpError || Resolve(rule.Syscall) is null && spec.ExtraArchitectures.Count == 0)
        {
            if (spec.SkipUnknownSyscalls)
                return;
            throw new SeccompCompileException(
                $"unknown system call '{rule.Syscall}': libseccomp does not know it on this architecture ({RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()})");
        }
        // libseccomp rejects a rule whose action is the default one (it would change nothing).
        if (rule.Action == spec.DefaultAction)
            return;
        var args = rule.Conditions.Select(c => new Libseccomp.ArgCmp
        {
            Arg = c.Index, Op = (int)c.Op, DatumA = c.Value,
            DatumB = c.ValueTwo,
        }).ToArray();
        int r = Libseccomp.RuleAddArray(ctx, rule.Action.Value, nr, args);
        Check(r, $"add a rule for '{rule.Syscall}' ({rule.Action})");
    }

    private static byte[] Export(SafeSeccompContext ctx)
    {
        int fd = Libc.MemfdCreate("seccomp-bpf", Libc.MFD_CLOEXEC);
        if (fd < 0)
            throw new SeccompCompileException($"cannot export the seccomp filter: memfd_create failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        using var handle = new SafeFd(fd);
        Check(Libseccomp.ExportBpf(ctx, fd), "export the filter as BPF");
        if (Libc.Lseek(fd, 0, Libc.SEEK_SET) < 0)
            throw new SeccompCompileException($"cannot export the seccomp filter: lseek failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var bytes = Libc.ReadToEnd(handle);
        if (bytes.Length == 0 || bytes.Length % 8 != 0)
            throw new SeccompCompileException($"libseccomp exported {bytes.Length} bytes, which is not a BPF program");
        return bytes;
    }

    private static void Check(int r, string what)
    {
        if (r < 0)
            throw new SeccompCompileException($"cannot {what}: libseccomp returned {Marshal.GetPInvokeErrorMessage(-r)}");
    }
}
