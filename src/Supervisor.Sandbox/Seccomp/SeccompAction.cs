namespace Supervisor.Sandbox.Seccomp;

/// <summary>A seccomp action as libseccomp encodes it (SCMP_ACT_*).</summary>
public readonly record struct SeccompAction(uint Value)
{
    public static SeccompAction KillProcess => new(0x80000000);
    public static SeccompAction KillThread => new(0x00000000);
    public static SeccompAction Trap => new(0x00030000);
    public static SeccompAction Log => new(0x7ffc0000);
    /// <summary>SECCOMP_RET_USER_NOTIF: the caller waits until the filter's listener answers.</summary>
    public static SeccompAction Notify => new(0x7fc00000);
    public static SeccompAction Allow => new(0x7fff0000);

    /// <summary>Fail the call with this errno (1..4095).</summary>
    public static SeccompAction Errno(int errno)
    {
        if (errno is < 0 or > 4095)
            throw new SeccompCompileException($"cannot use errno {errno} as a seccomp action: expected 0..4095");
        return new(0x00050000 | (uint)errno);
    }

    public static SeccompAction Trace(int message) => new(0x7ff00000 | ((uint)message & 0xffff));

    public override string ToString() => Value switch
    {
        0x80000000 => "kill-process",
        0x00000000 => "kill-thread",
        0x00030000 => "trap",
        0x7ffc0000 => "log",
        0x7fc00000 => "notify",
        0x7fff0000 => "allow",
        _ when (Value & 0xffff0000) == 0x00050000 => $"errno {Value & 0xffff}",
        _ => $"0x{Value:x8}",
    };
}

/// <summary>SCMP_CMP_* operators for argument conditions.</summary>
public enum SeccompCompare
{
    NotEqual = 1, LessThan = 2, LessOrEqual = 3, Equal = 4, GreaterOrEqual = 5, GreaterThan = 6, MaskedEqual = 7,
}

/// <summary>Argument Index compared with Op against Value (and ValueTwo, the mask's datum for MaskedEqual).</summary>
public sealed record SeccompArgCondition(uint Index, SeccompCompare Op, ulong Value, ulong ValueTwo = 0);

/// <summary>One rule: when Syscall is called (and all Conditions hold), take Action.</summary>
public sealed record SeccompRule(string Syscall, SeccompAction Action, IReadOnlyList<SeccompArgCondition> Conditions)
{
    public SeccompRule(string syscall, SeccompAction action) : this(syscall, action, []) { }
}

/// <summary>
/// A complete filter, before compilation: default action, extra architectures besides the
/// native one, and rules. What both the SystemCallFilter lists and OCI profiles turn into.
/// </summary>
public sealed record SeccompFilterSpec(
    SeccompAction DefaultAction,
    IReadOnlyList<SeccompRule> Rules,
    IReadOnlyList<uint> ExtraArchitectures,
    SeccompAction BadArchAction)
{
    /// <summary>Names absent on this architecture are skipped instead of being an error (OCI profiles list every arch's calls).</summary>
    public bool SkipUnknownSyscalls { get; init; }

    /// <summary>
    /// Complete rule lists for single ABIs (by AUDIT_ARCH value), used on that ABI instead of
    /// <see cref="Rules"/>: argument rules differ between ABIs (i386 multiplexes socket() and
    /// shmat()), and libseccomp adds a rule to every ABI of a context. Empty: Rules everywhere.
    /// </summary>
    public IReadOnlyDictionary<uint, IReadOnlyList<SeccompRule>> RulesByArch { get; init; } = new Dictionary<uint, IReadOnlyList<SeccompRule>>();
}
