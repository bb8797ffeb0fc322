using Supervisor.Sandbox.Compiler;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Planning;

/// <summary>
/// The load-time check of the Landlock keys against this kernel's Landlock ABI: a unit asking for
/// what the kernel cannot enforce (no Landlock at all; TCP ports below ABI 4; scopes below ABI 6)
/// fails closed as bad-setting, with the reason on the key, unless it says
/// LandlockCompatibility = "best-effort": then it is a warning, and the rest of its rules apply.
/// The compiler makes the same decision again at every start (ExecPlanCompiler.Landlock).
/// </summary>
public static class HostLandlockCheck
{
    public static UnitSet Apply(UnitSet set, HostFacts host)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(host);
        var diagnostics = set.Diagnostics.ToList();
        var units = new Dictionary<string, ParsedUnit>(set.Units, StringComparer.Ordinal);
        var bad = new Dictionary<string, string>(set.BadUnits, StringComparer.Ordinal);
        foreach (var (name, parsed) in set.Units)
        {
            if (parsed.Definition is not { Kind: UnitKind.Service } unit || !unit.Sandbox.HasLandlock) continue;
            var (_, lacking) = ExecPlanCompiler.Landlock(unit.Sandbox, host);
            bool required = unit.Sandbox.LandlockCompatibility == LandlockCompatibility.Required;
            foreach (var l in lacking)
                diagnostics.Add(new Diagnostic(required ? Severity.Error : Severity.Warning, parsed.LocationOf("Sandbox", l.Key), name, "Sandbox", l.Key,
                    required
                        ? $"[Sandbox] {l.Key} cannot be enforced: {l.Reason}; the unit is not started without it (LandlockCompatibility = \"best-effort\" would skip it)"
                        : $"[Sandbox] {l.Key} is skipped: {l.Reason} (LandlockCompatibility = \"best-effort\"); the rest of the unit's Landlock rules apply"));
            if (required && lacking.Length > 0)
            {
                units.Remove(name);
                bad[name] = unit.Sources[0];
            }
        }
        return new UnitSet(units, bad, diagnostics);
    }
}
