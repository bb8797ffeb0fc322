namespace Supervisor.Sandbox.Seccomp;

/// <summary>
/// One directive's limit on one system call, on one ABI: a call whose arguments match one of
/// <see cref="Deny"/> fails with <see cref="Errno"/>; a call matching one of <see cref="Allow"/>
/// keeps whatever the rest of the filter says. Each entry is a conjunction of argument
/// comparisons (one per argument, as libseccomp takes them).
///
/// The two lists never overlap, so the result does not depend on the order in which libseccomp
/// tests them; Deny alone covers every value the kernel would read as forbidden (including a
/// 32-bit argument with garbage in the upper half of its register), and Allow covers what is
/// left of the values a normal caller passes. Allow is needed only where the rest of the filter
/// allows the call explicitly (an allow list): the rule that allowed it outright is replaced by
/// these two, since libseccomp lets an unconditional rule swallow conditional ones.
/// </summary>
public sealed record SyscallRestriction(
    string Directive,
    string Syscall,
    int Errno,
    IReadOnlyList<IReadOnlyList<SeccompArgCondition>> Deny,
    IReadOnlyList<IReadOnlyList<SeccompArgCondition>> Allow)
{
    /// <summary>The call is refused whatever its arguments.</summary>
    public bool Unconditional => Allow.Count == 0;

    public static SyscallRestriction Always(string directive, string syscall, int errno) => new(directive, syscall, errno, [[]], []);

    /// <summary>A value that satisfies every comparison of <paramref name="conjunction"/> (the others are 0).</summary>
    public static ulong[] Sample(IReadOnlyList<SeccompArgCondition> conjunction)
    {
        var args = new ulong[6];
        foreach (var c in conjunction)
        {
            args[c.Index] = c.Op switch
            {
                SeccompCompare.MaskedEqual => c.ValueTwo,
                SeccompCompare.Equal or SeccompCompare.GreaterOrEqual or SeccompCompare.LessOrEqual => c.Value,
                SeccompCompare.GreaterThan or SeccompCompare.NotEqual => c.Value + 1,
                SeccompCompare.LessThan => c.Value - 1,
                _ => throw new ArgumentOutOfRangeException(nameof(conjunction), $"unknown comparison {c.Op}"),
            };
        }
        return args;
    }
}
