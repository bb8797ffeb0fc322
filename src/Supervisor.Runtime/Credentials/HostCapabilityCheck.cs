using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Credentials;

/// <summary>
/// The load-time check of CapabilityBoundingSet against what this supervisor holds: a capability
/// the unit names that the supervisor itself lacks (root in a container without CAP_SYS_RESOURCE,
/// say) cannot reach the service, since no process hands out what it does not have. It is a
/// warning on that unit (shown by `status`, logged), as a [Resources] key the host cannot honour
/// is, never dropped without a word; `inspect` shows it as declared but unavailable. A "~" list
/// (drop these, keep the rest) names what the unit gives up, so nothing in it is missing.
/// </summary>
public static class HostCapabilityCheck
{
    public static UnitSet Apply(UnitSet set, HostFacts host)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(host);
        var diagnostics = set.Diagnostics.ToList();
        foreach (var (name, parsed) in set.Units)
        {
            if (parsed.Definition is not { Kind: UnitKind.Service, Sandbox.CapabilityBoundingSet: { Invert: false } bounding }) continue;
            var lacking = bounding.Capabilities.Where(c => c <= host.CapLastCap && (host.SupervisorCapabilities & (1UL << c)) == 0)
                .Distinct().Select(CapabilityTable.NameOf).ToList();
            if (lacking.Count == 0) continue;
            diagnostics.Add(new Diagnostic(Severity.Warning, parsed.LocationOf("Sandbox", "CapabilityBoundingSet"), name, "Sandbox", "CapabilityBoundingSet",
                $"[Sandbox] CapabilityBoundingSet: {string.Join(", ", lacking)} cannot be given on this host: the supervisor itself does not hold " +
                $"{(lacking.Count == 1 ? "it" : "them")}, so the service runs without {(lacking.Count == 1 ? "it" : "them")}; the rest of the set applies"));
        }
        return new UnitSet(set.Units, set.BadUnits, diagnostics);
    }
}
