using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Sandbox.Inspect;

/// <summary>
/// The process-attribute lines of `supervisor inspect`: nice, CPU scheduling, I/O priority,
/// oom_score_adj and SIGPIPE, from /proc/PID/stat, ioprio_get(2), /proc/PID/oom_score_adj and
/// the SigIgn mask of /proc/PID/status. A declared value that differs is drift: `renice`,
/// `chrt`, `ionice` or a write to oom_score_adj by someone else changed the service.
/// </summary>
public static partial class IsolationCheck
{
    private const int SigPipeBit = 13 - 1;

    private static void CompareProcess(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        var p = plan.Process;
        var sched = state.Scheduling;
        if (p.Nice is { } nice)
            lines.Add(sched is null ? new("nice", Num(nice), "(unreadable)", CheckResult.Mismatch) : Eq("nice", Num(nice), Num(sched.Nice)));
        if (p.SchedPolicy is { } policy)
        {
            var declared = $"{StepMessages.SchedName(policy)} priority {p.SchedPriority}";
            lines.Add(sched is null
                ? new("CPU scheduling", declared, "(unreadable)", CheckResult.Mismatch)
                : Eq("CPU scheduling", declared, $"{StepMessages.SchedName(sched.Policy)} priority {sched.RtPriority}"));
        }
        if (p.IoPriority is { } io)
            lines.Add(Eq("I/O scheduling", IoText((int)io), state.IoPriority is { } found ? IoText(found) : "(unreadable)"));
        if (p.OomScoreAdjust is { } oom)
            lines.Add(OomLine(oom, state.OomScoreAdjust, p.OomScoreAdjustMayBeRefused));
        if (state.SigIgn is { } ignored)
        {
            bool isIgnored = (ignored & (1UL << SigPipeBit)) != 0;
            lines.Add(p.IgnoreSigpipe
                ? new("SIGPIPE", "ignored", isIgnored ? "ignored" : "default (the process restored it itself)", isIgnored ? CheckResult.Match : CheckResult.Info)
                : new("SIGPIPE", "default", isIgnored ? "ignored (by the process itself)" : "default", isIgnored ? CheckResult.Info : CheckResult.Match));
        }
    }

    private static InspectLine OomLine(int declared, int? found, bool mayBeRefused)
    {
        if (found is not { } f) return new("oom_score_adj", Num(declared), "(unreadable)", CheckResult.Mismatch);
        if (f == declared) return new("oom_score_adj", Num(declared), Num(f), CheckResult.Match);
        // The helper skipped what the kernel refused (as systemd does): not drift, not a match.
        return mayBeRefused && f > declared
            ? new("oom_score_adj", Num(declared), $"{Num(f)} (lowering it needs CAP_SYS_RESOURCE, which the supervisor lacks)", CheckResult.Unavailable)
            : new("oom_score_adj", Num(declared), Num(f), CheckResult.Mismatch);
    }

    private static string Num(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string IoText(int ioprio)
    {
        uint cls = (uint)ioprio >> ProcessAttributes.IoPrioClassShift;
        return cls == 3 ? "idle" : $"{StepMessages.IoClassName(cls)} priority {ioprio & 7}";
    }
}
