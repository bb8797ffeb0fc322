namespace Supervisor.Sandbox;

public sealed partial record ExecPlan
{
    /// <summary>Nice, CPU scheduling, I/O priority, oom_score_adj and SIGPIPE, set by the helper (procattr.c) before the uid switch.</summary>
    public ProcessAttributes Process { get; init; } = ProcessAttributes.Inherited;

    /// <summary>How fd 0, a terminal the supervisor opened, becomes the controlling terminal (stdio.c).</summary>
    public TerminalMode Terminal { get; init; } = TerminalMode.None;
}

/// <summary>
/// The attributes systemd.exec(5) "SCHEDULING" gives a process; null leaves one as inherited
/// from the supervisor (whose own are the defaults: nice 0, SCHED_OTHER, no I/O class).
/// </summary>
/// <param name="SchedPolicy">The kernel's SCHED_* number.</param>
/// <param name="IoPriority">The ioprio_set(2) value: class &lt;&lt; 13 | data.</param>
/// <param name="OomScoreAdjustMayBeRefused">Lowering oom_score_adj needs CAP_SYS_RESOURCE, which the supervisor lacks: the helper skips it if the kernel refuses (as systemd does), and inspect shows it as unavailable.</param>
public sealed record ProcessAttributes(
    int? Nice = null,
    uint? SchedPolicy = null,
    uint SchedPriority = 0,
    bool SchedResetOnFork = false,
    uint? IoPriority = null,
    int? OomScoreAdjust = null,
    bool IgnoreSigpipe = false,
    bool OomScoreAdjustMayBeRefused = false)
{
    /// <summary>Nothing set: the process keeps what the helper inherited (SIGPIPE at its default).</summary>
    public static readonly ProcessAttributes Inherited = new();

    public const int IoPrioClassShift = 13;

    public bool IsInherited => this == Inherited;

    internal uint Flags =>
        (Nice is not null ? HelperProtocol.ProcAttrNice : 0) |
        (SchedPolicy is not null ? HelperProtocol.ProcAttrSched : 0) |
        (SchedPolicy is not null && SchedResetOnFork ? HelperProtocol.ProcAttrResetOnFork : 0) |
        (IoPriority is not null ? HelperProtocol.ProcAttrIoPrio : 0) |
        (OomScoreAdjust is not null ? HelperProtocol.ProcAttrOomScoreAdj : 0) |
        (IgnoreSigpipe ? HelperProtocol.ProcAttrIgnoreSigpipe : 0);

    internal void Validate(Action<bool, string> check)
    {
        check(Nice is null or >= -20 and <= 19, $"nice must be -20..19, got {Nice}");
        check(SchedPriority <= 99, $"a scheduling priority is 0..99, got {SchedPriority}");
        check(!SchedResetOnFork || SchedPolicy is not null, "SchedResetOnFork needs SchedPolicy");
        check(IoPriority is null || IoPriority >> IoPrioClassShift <= 3, $"an I/O class is 0..3, got {IoPriority >> IoPrioClassShift}");
        check(OomScoreAdjust is null or >= -1000 and <= 1000, $"oom_score_adj must be -1000..1000, got {OomScoreAdjust}");
    }
}

/// <summary>StandardInput's terminal modes (TTY_MODE_* in plan.h).</summary>
public enum TerminalMode : uint
{
    None = HelperProtocol.TtyModeNone,
    Try = HelperProtocol.TtyModeTry,
    Force = HelperProtocol.TtyModeForce,
    Fail = HelperProtocol.TtyModeFail,
}
