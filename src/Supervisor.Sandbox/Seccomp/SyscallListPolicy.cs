namespace Supervisor.Sandbox.Seccomp;

public enum SyscallListMode
{
    /// <summary>Only the listed calls are allowed; everything else takes the error action.</summary>
    Allow,
    /// <summary>The listed calls take the error action; everything else is allowed ("~" lists).</summary>
    Deny,
}

/// <summary>
/// SystemCallFilter as systemd has it, with groups already expanded to syscall names.
/// NativeOnly is SystemCallArchitectures=native: no other ABI is added, and a call from one
/// (i386 int 0x80, x32) kills the process. LogSyscalls is SystemCallLog.
/// </summary>
public sealed record SyscallListPolicy(
    SyscallListMode Mode,
    IReadOnlyCollection<string> Syscalls,
    SeccompAction ErrorAction,
    bool NativeOnly = true,
    IReadOnlyCollection<string>? LogSyscalls = null)
{
    /// <summary>Secondary ABIs to filter with the same list; when set it replaces what NativeOnly says.</summary>
    public IReadOnlyList<uint>? ExtraArchitectures { get; init; }

    /// <summary>
    /// The denied calls are reported to the supervisor (SECCOMP_RET_USER_NOTIF), which answers them
    /// with <see cref="ErrorAction"/>'s meaning; the calls of <see cref="SeccompAnswer.NeverReported"/>
    /// keep <see cref="ErrorAction"/> in the filter itself.
    /// </summary>
    public bool NotifyDenials { get; init; }

    public SeccompFilterSpec ToSpec()
    {
        var log = new HashSet<string>(LogSyscalls ?? [], StringComparer.Ordinal);
        var rules = new List<SeccompRule>();
        var listed = new HashSet<string>(Syscalls, StringComparer.Ordinal);
        var denied = NotifyDenials ? SeccompAction.Notify : ErrorAction;
        if (Mode == SyscallListMode.Allow)
        {
            foreach (var s in listed.Order(StringComparer.Ordinal))
                rules.Add(new SeccompRule(s, log.Contains(s) ? SeccompAction.Log : SeccompAction.Allow));
            // A logged call that is not allowed still fails, but is logged: nothing to add.
            if (NotifyDenials)
                foreach (var s in SeccompAnswer.NeverReported.Where(s => !listed.Contains(s) && SeccompCompiler.IsKnownOnThisArch(s)).Order(StringComparer.Ordinal))
                    rules.Add(new SeccompRule(s, ErrorAction));
        }
        else
        {
            foreach (var s in listed.Order(StringComparer.Ordinal))
                rules.Add(new SeccompRule(s, NotifyDenials && !SeccompAnswer.NeverReported.Contains(s) ? denied : ErrorAction));
            foreach (var s in log.Where(s => !listed.Contains(s)).Order(StringComparer.Ordinal))
                rules.Add(new SeccompRule(s, SeccompAction.Log));
        }
        var def = Mode == SyscallListMode.Allow ? denied : SeccompAction.Allow;
        // Without NativeOnly the secondary ABIs of this machine are filtered by the same list.
        IReadOnlyList<uint> extra = ExtraArchitectures ?? (NativeOnly ? [] : SeccompCompiler.SecondaryArchitectures());
        return new SeccompFilterSpec(def, rules, extra, SeccompAction.KillProcess);
    }
}
