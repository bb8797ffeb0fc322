namespace Supervisor.Linux;

/// <summary>
/// How a process ended: an exit code, a signal (with or without a core dump), or
/// <see cref="Unknown"/> when it is gone but nobody could collect its wait status.
/// </summary>
public readonly record struct ExitInfo(int? Code, int? Signal, bool CoreDumped)
{
    /// <summary>The highest signal number (SIGRTMAX on Linux): 128 + 64 is the largest "killed" shell status.</summary>
    public const int MaxSignal = 64;

    public static ExitInfo Exited(int code) => new(code, null, false);
    public static ExitInfo Killed(int signal, bool core = false) => new(null, signal, core);

    /// <summary>
    /// The process is gone, but how it ended is not known: it was not this supervisor's child
    /// (a main process adopted after the supervisor restarted), so its wait status went to its
    /// real parent; only its pidfd said that it ended. Neither code nor signal is invented for it.
    /// </summary>
    public static ExitInfo Unknown => default;

    public bool IsUnknown => Code is null && Signal is null;

    /// <summary>
    /// The shell's number for it ($?): the code, or 128 + the signal; null when unknown. The one
    /// place this rule lives.
    /// </summary>
    public int? ShellStatus => Code ?? (Signal is { } s ? 128 + s : null);

    /// <summary>
    /// The reverse, for a status that a shell or an init in the sandbox reported as its own exit
    /// code (an init cannot re-raise a fatal signal on itself): 129 … 192 is a kill by signal 1 … 64.
    /// </summary>
    public static ExitInfo FromShellStatus(int status) =>
        status is > 128 and <= 128 + MaxSignal ? Killed(status - 128) : Exited(status);

    /// <summary>From a waitpid(2) status word: WIFEXITED → the code, else the terminating signal (WCOREDUMP noted).</summary>
    public static ExitInfo FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? Exited((status >> 8) & 0xff) : Killed(status & 0x7f, core: (status & 0x80) != 0);

    /// <summary>From what waitid(2) reports of a child: si_code says exited, killed or dumped, si_status the code or signal.</summary>
    public static ExitInfo FromSigInfo(Native.Libc.SigInfo info) => info.Code switch
    {
        Native.Libc.CLD_EXITED => Exited(info.Status),
        Native.Libc.CLD_DUMPED => Killed(info.Status, core: true),
        _ => Killed(info.Status),
    };

    public override string ToString() =>
        Code is { } c ? $"status={c}"
        : Signal is { } s ? $"signal={Signals.Name(s)}{(CoreDumped ? " (core dumped)" : "")}"
        : "status unknown (not a child of this supervisor)";
}
