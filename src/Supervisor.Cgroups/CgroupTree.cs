namespace Supervisor.Cgroups;

/// <summary>
/// Slices: creating a unit creates each slice above it first, each with its own limits, so a
/// slice's MemoryMax caps all its members together (the kernel enforces limits hierarchically).
/// </summary>
public static class CgroupTree
{
    /// <param name="sliceLimits">The [Resources] of each slice level (e.g. from a.slice.toml, a-b.slice.toml).</param>
    /// <returns>Every write, slices first.</returns>
    public static IReadOnlyList<LimitChange> CreateUnit(ICgroupDriver driver, CgroupPath unit,
        Func<CgroupPath, ResourceLimits> sliceLimits, ResourceLimits unitLimits)
    {
        // Validate every level before creating any, so a bad slice leaves nothing behind.
        var levels = unit.Ancestors.Select(p => (Path: p, Limits: sliceLimits(p))).ToList();
        foreach (var (_, limits) in levels)
        {
            driver.Validate(limits);
        }
        driver.Validate(unitLimits);

        var changes = new List<LimitChange>();
        foreach (var (path, limits) in levels)
        {
            changes.AddRange(driver.Open(path).Create(limits));
        }
        changes.AddRange(driver.Open(unit).Create(unitLimits));
        return changes;
    }
}
