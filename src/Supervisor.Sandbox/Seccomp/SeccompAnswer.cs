namespace Supervisor.Sandbox.Seccomp;

/// <summary>How the supervisor answers a call the filter reported (SECCOMP_RET_USER_NOTIF).</summary>
public enum SeccompAnswerKind
{
    /// <summary>The call fails with <see cref="SeccompAnswer.Errno"/> (SystemCallErrorNumber).</summary>
    Errno,
    /// <summary>The process is killed, as SECCOMP_RET_KILL_PROCESS would (SystemCallErrorNumber unset or "kill").</summary>
    Kill,
    /// <summary>The call goes ahead (SECCOMP_USER_NOTIF_FLAG_CONTINUE): SystemCallFilterMode = "learn".</summary>
    Continue,
}

/// <summary>The answer to every reported call of one filter; <see cref="Errno"/> only for <see cref="SeccompAnswerKind.Errno"/>.</summary>
public sealed record SeccompAnswer(SeccompAnswerKind Kind, int Errno = 0)
{
    public static SeccompAnswer Kill { get; } = new(SeccompAnswerKind.Kill);
    public static SeccompAnswer Continue { get; } = new(SeccompAnswerKind.Continue);

    /// <summary>
    /// The calls the helper makes after the filter is loaded (execve; exit_group and exit if execve
    /// fails): these are never reported but answered by the kernel itself, or the helper would wait
    /// for a listener it has not handed over yet (helper/seccomp.c).
    /// </summary>
    public static IReadOnlySet<string> NeverReported { get; } = new HashSet<string>(StringComparer.Ordinal) { "execve", "exit", "exit_group" };

    public override string ToString() => Kind switch
    {
        SeccompAnswerKind.Errno => Supervisor.Linux.Errno.Name(Errno),
        SeccompAnswerKind.Kill => "kill",
        _ => "allowed (learn)",
    };
}
