namespace Supervisor.Sandbox;

public static partial class HelperProtocol
{
    /// <summary>
    /// The LANDLOCK record (handled rights) and one LANDLOCK_PATH or LANDLOCK_PORT record per rule
    /// (landlock.c); nothing when the plan has no ruleset.
    /// </summary>
    private static void WriteLandlock(PlanWriter w, ExecPlan plan)
    {
        if (plan.Landlock is not { } ruleset) return;
        w.Record(TagLandlock, r =>
        {
            r.U64(ruleset.HandledFs);
            r.U64(ruleset.HandledNet);
            r.U64(ruleset.Scoped);
        });
        foreach (var p in ruleset.Paths)
        {
            w.Record(TagLandlockPath, r =>
            {
                r.U64(p.Access);
                r.U32(p.Optional ? LandlockPathOptional : 0);
                r.CString(p.Path);
            });
        }
        foreach (var p in ruleset.Ports)
        {
            w.Record(TagLandlockPort, r =>
            {
                r.U64(p.Access);
                r.U64((ulong)p.Port);
            });
        }
    }
}
