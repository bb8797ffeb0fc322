namespace Supervisor.Sandbox.Security;

/// <summary>What a check found: a badness from 0 (safe) to the check's range, or null when the check does not apply.</summary>
public readonly record struct Assessment(int? Badness, string Description)
{
    public static Assessment NotApplicable(string why) => new(null, why);
}

/// <summary>
/// One row of the exposure table: systemd-analyze security's assessor (id, weight, range) and how
/// it judges <see cref="SecurityFacts"/>. A row with <see cref="SupervisorOnly"/> judges what only
/// Supervisor has (Landlock, the live check) and is left out of the score, so the score stays the
/// one systemd-analyze computes.
/// </summary>
public sealed record ExposureCheck(string Name, int Weight, int Range, Func<SecurityFacts, Assessment> Assess, bool SupervisorOnly = false)
{
    /// <summary>A check passed (badness 0) or failed (full range) as one condition holds, with systemd's two descriptions.</summary>
    public static ExposureCheck Bool(string name, int weight, string good, string bad, Func<SecurityFacts, bool> safe) =>
        new(name, weight, 1, f => safe(f) ? new Assessment(0, good) : new Assessment(1, bad));
}

/// <summary>One check as judged for one unit; <see cref="Exposure"/> is its share of the score in tenths (null: n/a or safe).</summary>
public sealed record ExposureLine(ExposureCheck Check, Assessment Assessment, int? Exposure)
{
    /// <summary>True: safe; false: some exposure; null: the check does not apply.</summary>
    public bool? Passes => Assessment.Badness is { } b ? b == 0 : null;
}

/// <summary>A unit's score: 0–100 tenths (0.0–10.0, lower is safer) over the systemd checks, with every line.</summary>
public sealed record ExposureReport(string Unit, IReadOnlyList<ExposureLine> Lines, int ScoreTenths)
{
    public string Score => $"{ScoreTenths / 10}.{ScoreTenths % 10}";

    /// <summary>systemd's words for the score (analyze-security.c's badness_table).</summary>
    public string Rating => ScoreTenths switch
    {
        >= 100 => "DANGEROUS",
        >= 90 => "UNSAFE",
        >= 75 => "EXPOSED",
        >= 50 => "MEDIUM",
        >= 10 => "OK",
        >= 1 => "SAFE",
        _ => "PERFECT",
    };
}
