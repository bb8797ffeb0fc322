using System.Collections.Immutable;
using Supervisor.Cgroups;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Planning;

/// <summary>One level of the slice chain above a unit: its cgroup, the limits written there, and the declaration they came from.</summary>
public sealed record SlicePlan(CgroupPath Path, ResourceLimits Limits, ResourcesSection? Declared);

/// <summary>
/// One command of the unit (ExecStart, ExecStartPre, ExecStop, …) compiled for its sandbox, or why
/// it cannot run. A command that cannot be compiled fails when it is run, not when the plan is made,
/// so a broken ExecStop does not stop the unit from starting (systemd finds it out at exec time too).
/// </summary>
public sealed record CommandPlan(Command Command, ExecPlan? Exec, PlanCompileException? Error)
{
    public ExecPlan ExecOrThrow => Exec ?? throw Error!;
}

/// <summary>
/// Everything the runtime needs to run one unit, decided once from its definition, its slice chain
/// and the host's facts: the cgroup with its limits and its slices' limits, the notify socket and
/// watchdog, and an exec plan for every command. The host reads only this; nothing in it is looked
/// up again while the unit runs, so what is checked (isolation, drift) is what was started.
/// </summary>
public sealed record UnitPlan
{
    public required UnitDefinition Unit { get; init; }
    /// <summary>The host facts and users the exec plans were compiled with (a refresh makes a new plan).</summary>
    public required CompileContext Context { get; init; }
    public required CgroupPath Cgroup { get; init; }
    /// <summary>What the unit's own cgroup files hold.</summary>
    public required ResourceLimits Limits { get; init; }
    /// <summary>The slices above the unit, outermost first.</summary>
    public required ImmutableArray<SlicePlan> Slices { get; init; }
    /// <summary>$NOTIFY_SOCKET for the main process; null when the unit neither notifies nor has a watchdog.</summary>
    public string? NotifySocket { get; init; }
    /// <summary>WatchdogSec, when enabled (also given to the service as WATCHDOG_USEC).</summary>
    public TimeSpan? Watchdog { get; init; }
    /// <summary>ExecStart (null for a unit without one, e.g. a slice).</summary>
    public CommandPlan? Main { get; init; }
    /// <summary>Every other command of the unit, in the order of the unit file's keys.</summary>
    public required ImmutableArray<CommandPlan> Control { get; init; }

    /// <summary>The compiled form of <paramref name="command"/>, one of this unit's commands.</summary>
    public CommandPlan For(Command command)
    {
        if (Main is { } main && (ReferenceEquals(main.Command, command) || main.Command == command)) return main;
        foreach (var c in Control)
            if (ReferenceEquals(c.Command, command)) return c;
        foreach (var c in Control)
            if (c.Command == command) return c;
        throw new InvalidOperationException($"{Unit.Name}: '{command.Program}' is not one of the unit's commands");
    }

    /// <summary>The slices' declarations, to notice a changed slice at the next start.</summary>
    public IEnumerable<ResourcesSection?> SliceDeclarations => Slices.Select(s => s.Declared);

    /// <summary>The limits of the slice at <paramref name="path"/> (none for a level without a slice unit).</summary>
    public ResourceLimits SliceLimits(CgroupPath path) =>
        Slices.FirstOrDefault(s => s.Path.Equals(path))?.Limits ?? ResourceLimits.None;
}
