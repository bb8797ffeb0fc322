using Supervisor.Units;

namespace Supervisor.Import.Translate;

/// <summary>Why a directive, or part of one, is not carried into the TOML unit. Each has a short label for the coverage table.</summary>
public enum Why
{
    /// <summary>Only means something to systemd as PID 1 ([Install], DefaultDependencies, isolation): left out on purpose.</summary>
    InitOnly,
    /// <summary>Supervisor always does what it asks (accounting): left out on purpose.</summary>
    NoEffectHere,
    /// <summary>systemd ignores it as well (a removed directive, a line without '=', an unknown section, a value it cannot parse).</summary>
    IgnoredBySystemd,
    /// <summary>A name systemd 252 does not know either; it ignores it with a warning.</summary>
    UnknownToSystemd,
    /// <summary>An X- section or key, meant for other programs.</summary>
    Extension,
    /// <summary>A systemd directive Supervisor has no key for yet.</summary>
    NotBuiltYet,
    /// <summary>Supervisor has the key, but not this value (a percentage of RAM, $MAINPID, the "@" exec prefix …).</summary>
    NotExpressible,
    /// <summary>The converted value was refused by Supervisor's own parser (what <c>supervisor check</c> says).</summary>
    Rejected,
    /// <summary>A dependency on a unit type Supervisor does not have (.target, .socket, .mount …).</summary>
    OtherUnitType,
    /// <summary>Requires, BindsTo or PartOf on a unit that is neither imported nor in the output directory.</summary>
    MissingUnit,
    /// <summary>Written as is, but Supervisor does not expand it yet (specifiers such as %i, a template).</summary>
    KeptAsWritten,
}

public static class WhyText
{
    /// <summary>The coverage table's "why" column.</summary>
    public static string Label(this Why why) => why switch
    {
        Why.InitOnly => "init-only, no effect here (left out on purpose)",
        Why.NoEffectHere => "always on here (left out on purpose)",
        Why.IgnoredBySystemd => "ignored by systemd too",
        Why.UnknownToSystemd => "unknown to systemd 252 too",
        Why.Extension => "X- extension, for other programs",
        Why.NotBuiltYet => "no such key here (not built yet)",
        Why.NotExpressible => "value not expressible",
        Why.Rejected => "refused by Supervisor's parser",
        Why.OtherUnitType => "no such unit type here (not built yet)",
        Why.MissingUnit => "required unit not imported",
        Why.KeptAsWritten => "kept as written, not expanded (not built yet)",
        _ => why.ToString(),
    };

    /// <summary>
    /// Whether leaving it out changes what the unit does: false for what has no effect outside
    /// systemd as PID 1, what Supervisor always does, and what systemd ignores too. Only a change
    /// in meaning makes <c>supervisor import</c> exit non-zero.
    /// </summary>
    public static bool ChangesMeaning(this Why why) =>
        why is not (Why.InitOnly or Why.NoEffectHere or Why.IgnoredBySystemd or Why.UnknownToSystemd or Why.Extension);
}

/// <summary>One directive, or one part of it, not carried: where it was written, the systemd key, and why.</summary>
public sealed record NotCarried(SourceLocation Location, string Section, string Key, Why Why, string Detail)
{
    /// <summary>"file:line: Key: why", the form <c>supervisor import</c> prints.</summary>
    public override string ToString() => Location.Line > 0 ? $"{Location.Path}:{Location.Line}: {Key}: {Detail}" : $"{Location.Path}: {Key}: {Detail}";
}
