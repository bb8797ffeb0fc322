using Supervisor.Linux.Native;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>A directive's rules cannot be put into the unit's filter; the message says why.</summary>
public sealed class KernelRestrictionException(string directive, string message) : Exception(message)
{
    public string Directive { get; } = directive;
}

/// <summary>What the compiled filter must answer for one call: checked against the BPF libseccomp produced.</summary>
public sealed record SeccompExpectation(uint Arch, string Syscall, ulong[] Args, SeccompAction Action, string Directive);

/// <summary>
/// Puts the directives' <see cref="SyscallRestriction"/>s into a filter spec made from
/// SystemCallFilter or a seccomp profile, so the service gets one filter. The result per call
/// is what systemd's separate filters give together (the kernel takes the strictest answer, and
/// among errnos the last filter systemd loads, SystemCallFilter's): where the rest of the filter
/// already refuses or kills a call, that stays; where it allows (or logs) it, the directive's
/// denied arguments get its errno and the others keep that action.
/// </summary>
public static class SeccompMerge
{
    /// <param name="notifyDenies">The spec's SECCOMP_RET_USER_NOTIF stands for a denial the supervisor answers (SystemCallFilter's
    /// reported set), so it counts as a refusal and stays; otherwise (learn mode) it lets the call through and the directive's errno applies.</param>
    public static (SeccompFilterSpec Spec, IReadOnlyList<SeccompExpectation> Expectations) Apply(
        SeccompFilterSpec spec, Func<uint, IReadOnlyList<SyscallRestriction>> restrictionsFor, string baseName, bool notifyDenies = false)
    {
        uint native = Libseccomp.NativeArch();
        var byArch = new Dictionary<uint, IReadOnlyList<SeccompRule>>();
        var expectations = new List<SeccompExpectation>();
        foreach (var arch in spec.ExtraArchitectures.Prepend(native).Distinct())
        {
            var rules = new List<SeccompRule>(spec.Rules);
            foreach (var restriction in OnAbi(arch, restrictionsFor(arch)))
                expectations.AddRange(Merge(arch, spec.DefaultAction, rules, restriction, baseName, notifyDenies));
            byArch[arch] = rules;
        }
        return (spec with { RulesByArch = byArch }, expectations);
    }

    /// <summary>Every expectation the program does not meet, with what it answered instead.</summary>
    public static IEnumerable<(SeccompExpectation Expected, SeccompAction Got)> Violations(byte[] bpf, IReadOnlyList<SeccompExpectation> expectations)
    {
        foreach (var e in expectations)
        {
            int nr = Libseccomp.SyscallResolveNameArch(e.Arch, e.Syscall);
            if (nr < 0)
                continue; // multiplexed on this ABI (i386 socketcall, ipc): refused outright, nothing to evaluate by number
            var got = new SeccompAction(SeccompEvaluator.Run(bpf, SeccompEvaluator.DataArch(e.Arch), nr, e.Args));
            if (got != e.Action)
                yield return (e, got);
        }
    }

    /// <summary>SECCOMP_RET_ALLOW, _LOG, _TRACE and _USER_NOTIF: below ERRNO, so a directive's errno wins over them.</summary>
    public static bool IsPermissive(SeccompAction action) =>
        (action.Value & 0xffff0000) is 0x7fff0000 or 0x7ffc0000 or 0x7ff00000 or 0x7fc00000;

    /// <summary>
    /// The restrictions for calls this ABI has: a call only other ABIs have is skipped; one
    /// libseccomp does not know at all is an error (the filter could not stop it); a call the ABI
    /// multiplexes (i386 socketcall, ipc) can only be refused whole.
    /// </summary>
    private static IEnumerable<SyscallRestriction> OnAbi(uint arch, IReadOnlyList<SyscallRestriction> restrictions)
    {
        foreach (var group in restrictions.GroupBy(r => r.Syscall))
        {
            var r = group.FirstOrDefault(x => x.Unconditional) ?? group.First();
            if (group.Count(x => !x.Unconditional) > 1)
                throw new KernelRestrictionException(r.Directive,
                    $"{string.Join(" and ", group.Select(x => x.Directive).Distinct())} both filter '{r.Syscall}' by its arguments, which one filter cannot combine");
            int nr = Libseccomp.SyscallResolveNameArch(arch, r.Syscall);
            if (nr == Libseccomp.NrScmpError)
                throw new KernelRestrictionException(r.Directive,
                    $"libseccomp does not know the system call '{r.Syscall}', so the filter could not stop it; a newer libseccomp (2.5.5 or later) knows it");
            if (nr <= -10000)
                continue;
            if (nr < 0 && !r.Unconditional)
                throw new KernelRestrictionException(r.Directive, $"'{r.Syscall}' is multiplexed on ABI 0x{arch:x8} and cannot be filtered by its arguments there");
            yield return r;
        }
    }

    private static List<SeccompExpectation> Merge(uint arch, SeccompAction defaultAction, List<SeccompRule> rules,
        SyscallRestriction r, string baseName, bool notifyDenies)
    {
        var existing = rules.Where(b => b.Syscall == r.Syscall).ToList();
        if (existing.Count > 1 || existing.Any(b => b.Conditions.Count > 0))
            throw new KernelRestrictionException(r.Directive,
                $"{baseName} already filters '{r.Syscall}' by its arguments, and {r.Directive} filters it too; one seccomp filter cannot hold both: drop the profile's rule for '{r.Syscall}' or the directive");
        var baseAction = existing.Count == 1 ? existing[0].Action : defaultAction;
        var expect = new List<SeccompExpectation>();
        if (!IsPermissive(baseAction) || (notifyDenies && baseAction == SeccompAction.Notify))
        {
            // Already refused or killed: the stricter answer stands, as with systemd's two filters.
            expect.AddRange(r.Deny.Select(c => new SeccompExpectation(arch, r.Syscall, SyscallRestriction.Sample(c), baseAction, r.Directive)));
            return expect;
        }
        rules.RemoveAll(b => b.Syscall == r.Syscall);
        var deny = SeccompAction.Errno(r.Errno);
        foreach (var c in r.Deny)
        {
            rules.Add(new SeccompRule(r.Syscall, deny, c));
            expect.Add(new SeccompExpectation(arch, r.Syscall, SyscallRestriction.Sample(c), deny, r.Directive));
        }
        foreach (var c in r.Allow)
        {
            // Allowed by an explicit rule (an allow list): it keeps that action for these arguments.
            // Allowed by the default action: nothing to add, the call falls through to it.
            if (existing.Count == 1)
                rules.Add(new SeccompRule(r.Syscall, baseAction, c));
            expect.Add(new SeccompExpectation(arch, r.Syscall, SyscallRestriction.Sample(c), baseAction, r.Directive));
        }
        return expect;
    }
}
