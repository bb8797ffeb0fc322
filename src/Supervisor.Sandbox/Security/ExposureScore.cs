using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Security;

/// <summary>
/// The exposure score of systemd-analyze security (analyze-security.c's assess()): each check that
/// applies adds ⌈badness × weight / range⌉ to a sum and its weight to a total; the score is
/// ⌈sum × 100 / total⌉ tenths, so 0.0 is every check safe and 10.0 every check at its worst.
/// </summary>
public static class ExposureScore
{
    public static ExposureReport Assess(string unit, SecurityFacts facts, IReadOnlyList<ExposureCheck>? checks = null)
    {
        checks ??= ExposureTable.All;
        var assessed = checks.Select(c => (Check: c, Result: c.Assess(facts))).ToList();
        long badnessSum = 0, weightSum = 0;
        foreach (var (check, result) in assessed)
        {
            if (check.SupervisorOnly || result.Badness is not { } badness) continue;
            badnessSum += DivRoundUp((long)badness * check.Weight, check.Range);
            weightSum += check.Weight;
        }
        var lines = assessed.Select(a => new ExposureLine(a.Check, a.Result, LineExposure(a.Check, a.Result, weightSum))).ToList();
        int score = weightSum == 0 ? 0 : (int)DivRoundUp(badnessSum * 100, weightSum);
        return new ExposureReport(unit, lines, score);
    }

    /// <summary>The score of a declared unit.</summary>
    public static ExposureReport Assess(UnitDefinition unit) => Assess(unit.Name, SecurityFacts.FromDeclaration(unit));

    /// <summary>A line's share in tenths, as systemd prints it in its EXPOSURE column; null when the line adds nothing.</summary>
    private static int? LineExposure(ExposureCheck check, Assessment result, long weightSum) =>
        check.SupervisorOnly || result.Badness is not ({ } b and > 0) || weightSum == 0
            ? null
            : (int)DivRoundUp(DivRoundUp((long)b * check.Weight * 100, check.Range), weightSum);

    private static long DivRoundUp(long x, long y) => (x + y - 1) / y;
}
