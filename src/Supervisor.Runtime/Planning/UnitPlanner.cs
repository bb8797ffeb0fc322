using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Planning;

/// <summary>
/// The one compile step: a unit's definition, the definitions of the slices above it and the
/// host's facts go in, one <see cref="UnitPlan"/> comes out. Pure apart from what the context
/// already holds (users, capabilities, and the cgroup driver's file names): the same inputs give
/// the same plan.
/// </summary>
public sealed class UnitPlanner(ICgroupDriver driver, string notifyDirectory)
{
    /// <param name="lookup">Other units by name, for the slice chain.</param>
    public UnitPlan Plan(UnitDefinition unit, CompileContext context, Func<string, UnitDefinition?> lookup)
    {
        var path = CgroupPathOf(unit);
        var watchdog = WatchdogOf(unit.Service);
        string? notify = unit.Kind == UnitKind.Service && (unit.Service.Type == ServiceType.Notify || watchdog is not null)
            ? Path.Combine(notifyDirectory, unit.Name) : null;
        var slices = SlicesOf(path, lookup);
        var ctx = context with { CgroupProcsFiles = [.. driver.Open(path).ProcsFiles] };
        var svc = unit.Service;
        return new UnitPlan
        {
            Unit = unit,
            Context = context,
            Cgroup = path,
            Limits = ResourceMapping.Map(unit.EffectiveResources(), slices.Select(s => s.Declared)),
            Slices = slices,
            NotifySocket = notify,
            Watchdog = watchdog,
            Main = unit.Kind == UnitKind.Service && svc.ExecStart is { } start ? CompileMain(unit, start, ctx, notify, watchdog) : null,
            Control = unit.Kind != UnitKind.Service ? []
                : [.. svc.ExecCondition.Concat(svc.ExecStartPre).Concat(svc.ExecStartMore).Concat(svc.ExecStartPost).Concat(svc.ExecReload).Concat(svc.ExecStop).Concat(svc.ExecStopPost).Concat(unit.Health.Commands)
                    .Select(c => Compile(unit, c, ctx))],
        };
    }

    /// <summary>Where a unit's (or a slice's) processes live in every hierarchy.</summary>
    public static CgroupPath CgroupPathOf(UnitDefinition unit) =>
        unit.Kind == UnitKind.Slice ? CgroupPath.ForSlice(unit.Name) : CgroupPath.ForUnit(unit.Name, unit.Service.Slice);

    /// <summary>WatchdogSec when it is on (not 0, not infinity).</summary>
    public static TimeSpan? WatchdogOf(ServiceSection service) =>
        service.WatchdogEnabled ? service.WatchdogSec.ToTimeSpan() : null;

    /// <summary>The slice chain above <paramref name="path"/>, outermost first.</summary>
    private static ImmutableArray<SlicePlan> SlicesOf(CgroupPath path, Func<string, UnitDefinition?> lookup) =>
        [.. path.Ancestors.Select(p => SliceOf(p, lookup))];

    /// <summary>
    /// Whether every slice above the plan's unit is declared as it was when the plan was made: a
    /// look-up per level and a comparison, nothing mapped (this runs at every start and restart).
    /// </summary>
    public static bool SlicesUnchanged(UnitPlan plan, Func<string, UnitDefinition?> lookup)
    {
        foreach (var slice in plan.Slices)
        {
            var now = lookup(slice.Path.Segments[^1]) is { Kind: UnitKind.Slice } s ? s.Resources : null;
            if (!Equals(now, slice.Declared)) return false;
        }
        return true;
    }

    private static SlicePlan SliceOf(CgroupPath path, Func<string, UnitDefinition?> lookup) =>
        lookup(path.Segments[^1]) is { Kind: UnitKind.Slice } slice
            ? new SlicePlan(path, ResourceMapping.Map(slice.Resources), slice.Resources)
            : new SlicePlan(path, ResourceLimits.None, null);

    /// <summary>ExecStart gets the notify socket and, with a watchdog, WATCHDOG_USEC; control commands get neither.</summary>
    private static CommandPlan CompileMain(UnitDefinition unit, Command start, CompileContext ctx, string? notify, TimeSpan? watchdog)
    {
        var compiled = Compile(unit, start, ctx with { NotifySocket = notify });
        // A forking parent in its own pid namespace: the init must outlive it (it would take the daemon along).
        if (unit.Service.Type == ServiceType.Forking && compiled.Exec is { } forking && (forking.Namespaces & NamespaceFlags.Pid) != 0)
            compiled = compiled with { Exec = forking with { InitReports = true } };
        if (compiled.Exec is not { } exec || watchdog is not { } wd) return compiled;
        var usec = (long)(wd.Ticks / 10);
        return compiled with { Exec = exec with { Environment = exec.Environment.Add($"WATCHDOG_USEC={usec.ToString(CultureInfo.InvariantCulture)}") } };
    }

    private static CommandPlan Compile(UnitDefinition unit, Command command, CompileContext ctx)
    {
        try
        {
            return new CommandPlan(command, ExecPlanCompiler.Compile(unit, ctx, ReferenceEquals(command, unit.Service.ExecStart) ? null : command), null);
        }
        catch (PlanCompileException e)
        {
            return new CommandPlan(command, null, e);
        }
    }
}
