using System.Collections.Immutable;

namespace Supervisor.Sandbox.Inspect;

public static partial class IsolationCheck
{
    /// <summary>
    /// The Landlock ruleset: Linux 6.18 shows a process's Landlock domain nowhere in /proc (no
    /// status field, no attr/landlock file), so the line is Info, not a Match; what best effort
    /// left out on this kernel is a Skipped line each. The no_new_privs it needs is compared with
    /// the other credentials.
    /// </summary>
    private static void CompareLandlock(ExecPlan plan, ImmutableArray<InspectLine>.Builder lines)
    {
        if (plan.Landlock is not { } ruleset) return;
        lines.Add(new("landlock", ruleset.Describe(), "not observable from /proc", CheckResult.Info));
        foreach (var skipped in ruleset.Skipped)
            lines.Add(new("landlock", skipped, "skipped (LandlockCompatibility = \"best-effort\")", CheckResult.Skipped));
    }
}
