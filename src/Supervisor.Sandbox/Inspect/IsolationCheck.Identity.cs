using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;

namespace Supervisor.Sandbox.Inspect;

/// <summary>The identity lines of `supervisor inspect`: uid and gid as the process may have chosen them, the umask, and capabilities this host cannot give.</summary>
public static partial class IsolationCheck
{
    private const int CapSetgid = 6;
    private const int CapSetuid = 7;

    /// <summary>Whether the plan leaves the process a capability to use (no capability sets in the plan: the kernel's root default, all of them).</summary>
    private static bool MayUse(ExecPlan plan, int capability) =>
        plan.Capabilities is not { } caps || (caps.Permitted & (1UL << capability)) != 0;

    /// <summary>
    /// A uid or gid line: the declared id, or, when <paramref name="mayChange"/> (started as root and
    /// allowed to switch), whatever the process switched to by itself, marked as its own choice.
    /// </summary>
    private static InspectLine Id(string property, uint declared, uint found, bool mayChange)
    {
        var d = declared.ToString(CultureInfo.InvariantCulture);
        var f = found.ToString(CultureInfo.InvariantCulture);
        if (declared == found) return new(property, d, f, CheckResult.Match);
        return mayChange
            ? new(property, d, $"{f} (switched by the process itself, which started as root with CAP_{(property == "uid" ? "SETUID" : "SETGID")})", CheckResult.Match)
            : new(property, d, f, CheckResult.Mismatch);
    }

    /// <summary>UMask and the capabilities CapabilityBoundingSet names that the supervisor itself lacks.</summary>
    private static void CompareIdentity(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        if (plan.UMask is { } mask)
        {
            // umask(2) is the process's to change at any time (daemons often set their own): a
            // difference is reported, but it is no isolation the kernel keeps, so it is not drift.
            var declared = ExecPlanCompiler.FormatUMask(mask);
            lines.Add(state.Umask switch
            {
                null => new("umask", declared, "(not shown by this kernel)", CheckResult.Info),
                { } found when found == mask => new("umask", declared, declared, CheckResult.Match),
                { } found => new("umask", declared, $"{ExecPlanCompiler.FormatUMask(found)} (set by the process itself)", CheckResult.Info),
            });
        }
        foreach (var name in CapabilityTable.NamesOf(plan.UnavailableCapabilities))
            lines.Add(new($"capability {name}", "in CapabilityBoundingSet", "unavailable: the supervisor itself does not hold it, so no service of it can",
                CheckResult.Unavailable));
    }
}
