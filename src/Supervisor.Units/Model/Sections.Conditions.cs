using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>
/// One Condition*/Assert* entry of [Unit], as systemd.unit(5) reads it: "|" first makes it a
/// triggering condition, then "!" negates it; the rest is the parameter the kind reads.
/// </summary>
public sealed record UnitCondition(string Kind, bool IsAssert, bool Trigger, bool Negate, string Parameter)
{
    /// <summary>The key it was written under: "ConditionPathExists", "AssertUser" ….</summary>
    public string Key => (IsAssert ? "Assert" : "Condition") + Kind;

    /// <summary>As systemctl status prints it: "ConditionPathExists=|!/x".</summary>
    public override string ToString() => $"{Key}={(Trigger ? "|" : "")}{(Negate ? "!" : "")}{Parameter}";

    /// <summary>The value as written in the unit file ("|!/x").</summary>
    public string Written => $"{(Trigger ? "|" : "")}{(Negate ? "!" : "")}{Parameter}";

    /// <summary>Reads "|!/x" the way systemd's config_parse_unit_condition_* does: "|" before "!", each at most once, spaces after them allowed.</summary>
    public static UnitCondition Parse(string kind, bool isAssert, string text)
    {
        var s = text.Trim();
        bool trigger = false, negate = false;
        if (s.StartsWith('|')) { trigger = true; s = s[1..].TrimStart(); }
        if (s.StartsWith('!')) { negate = true; s = s[1..].TrimStart(); }
        return new UnitCondition(kind, isAssert, trigger, negate, s);
    }
}

/// <summary>The outcome of checking a unit's conditions (or its asserts) once, at a start.</summary>
/// <param name="Met">Whether the unit may start by this list.</param>
/// <param name="NotMet">What failed, in the order written: the non-triggering ones that failed, or, when every triggering one failed, those.</param>
/// <param name="Why">When no Condition* failed but the start was still skipped (ExecCondition), what said so.</param>
/// <param name="Dependency">Not an Assert* but a requirement the host does not meet (RequiresMountsFor=): the job fails as a dependency.</param>
public sealed record ConditionOutcome(bool IsAssert, bool Met, ValueList<UnitCondition> NotMet, string? Why = null, bool Dependency = false)
{
    /// <summary>"ConditionPathExists=/x was not met; ConditionUser=bob was not met".</summary>
    public string Describe() => NotMet.Count == 0 && Why is not null ? Why : string.Join("; ", NotMet.Select(c => $"{c}" + " was not met"));

    /// <summary>Nothing to check: met.</summary>
    public static ConditionOutcome None(bool isAssert) => new(isAssert, true, ValueList<UnitCondition>.Empty);
}

/// <summary>systemd's combination rule (condition_test_list): pure, tested by a table.</summary>
public static class ConditionRule
{
    /// <summary>
    /// Every non-triggering condition must hold, and at least one triggering condition, if
    /// there is any. An empty list holds. A condition whose check failed (an error) counts as not met.
    /// </summary>
    public static ConditionOutcome Combine(bool isAssert, IReadOnlyList<(UnitCondition Condition, bool Met)> results)
    {
        var failedPlain = results.Where(r => !r.Condition.Trigger && !r.Met).Select(r => r.Condition).ToList();
        var triggers = results.Where(r => r.Condition.Trigger).ToList();
        bool triggered = triggers.Count == 0 || triggers.Any(r => r.Met);
        var notMet = failedPlain.Count > 0 ? failedPlain
            : triggered ? []
            : triggers.Select(r => r.Condition).ToList();
        return new ConditionOutcome(isAssert, failedPlain.Count == 0 && triggered, new ValueList<UnitCondition>(notMet));
    }
}

/// <summary>[Unit] start conditions and assertions, and the units started when this one fails or succeeds.</summary>
public sealed partial record UnitSection
{
    /// <summary>RequiresMountsFor=: absolute paths whose file systems (every mount point on the way that /etc/fstab declares) must be mounted for the unit to start.</summary>
    public ValueList<string> RequiresMountsFor { get; init; } = ValueList<string>.Empty;
    /// <summary>RefuseManualStart=: only a dependency may start the unit; a start or restart asked for over the control API is refused.</summary>
    public bool RefuseManualStart { get; init; }
    /// <summary>RefuseManualStop=: only a dependency may stop the unit; a stop or restart asked for over the control API is refused.</summary>
    public bool RefuseManualStop { get; init; }
    /// <summary>Every Condition* and Assert* entry, grouped by key in the key table's order.</summary>
    public ValueList<UnitCondition> Conditions { get; init; } = ValueList<UnitCondition>.Empty;
    /// <summary>Units started when this one enters the failed state (systemd's OnFailure=).</summary>
    public ValueList<string> OnFailure { get; init; } = ValueList<string>.Empty;
    /// <summary>Units started when this one becomes inactive after it was up (systemd's OnSuccess=).</summary>
    public ValueList<string> OnSuccess { get; init; } = ValueList<string>.Empty;
}

/// <summary>[Service] ExecCondition and the D-Bus name of Type=dbus.</summary>
public sealed partial record ServiceSection
{
    /// <summary>Commands run before ExecStartPre: exit 1–254 skips the start, 255 or a signal fails it.</summary>
    public ValueList<Command> ExecCondition { get; init; } = ValueList<Command>.Empty;
    /// <summary>Type=dbus: the well-known name on the system bus whose appearance makes the service started.</summary>
    public string? BusName { get; init; }
}
