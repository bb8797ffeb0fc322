namespace Supervisor.Sandbox;

public static partial class HelperProtocol
{
    /// <summary>The PROCATTR and TTY records (procattr.c, stdio.c); none when nothing is set.</summary>
    private static void WriteProcess(PlanWriter w, ExecPlan plan)
    {
        var p = plan.Process;
        if (p.Flags != 0)
        {
            w.Record(TagProcAttr, r =>
            {
                r.U32(p.Flags);
                r.U32(unchecked((uint)(p.Nice ?? 0)));
                r.U32(p.SchedPolicy ?? 0);
                r.U32(p.SchedPriority);
                r.U32(p.IoPriority ?? 0);
                r.U32(unchecked((uint)(p.OomScoreAdjust ?? 0)));
            });
        }
        if (plan.Terminal != TerminalMode.None)
            w.Record(TagTty, r => r.U32((uint)plan.Terminal));
    }
}
