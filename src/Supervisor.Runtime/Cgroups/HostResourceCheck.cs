using Supervisor.Cgroups;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// The load-time check of [Resources] against this host's cgroups: a key the host cannot honour
/// is a warning on that unit (shown by `status` and logged), never silently dropped; a missing
/// controller or a value the kernel would refuse (below a page, CPUs the host lacks, a device
/// that does not exist, an address or bind filter on cgroup v1) makes the unit bad-setting, so
/// it never starts half-limited or unfiltered.
/// </summary>
public static class HostResourceCheck
{
    public static UnitSet Apply(UnitSet set, ICgroupDriver driver)
    {
        var diagnostics = set.Diagnostics.ToList();
        var units = new Dictionary<string, ParsedUnit>(set.Units, StringComparer.Ordinal);
        var bad = new Dictionary<string, string>(set.BadUnits, StringComparer.Ordinal);
        foreach (var (name, parsed) in set.Units)
        {
            var limits = ResourceMapping.Map(parsed.Definition.EffectiveResources());
            bool fatal = false;
            try
            {
                driver.Validate(limits);
            }
            catch (CgroupLimitException e)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Resources", e.Key), name, "Resources", e.Key,
                    $"[Resources] {e.Message}"));
                fatal = true;
            }
            foreach (var u in driver.CannotHonour(limits))
            {
                bool error = u.Kind == UnhonouredKind.ControllerMissing;
                fatal |= error;
                diagnostics.Add(new Diagnostic(error ? Severity.Error : Severity.Warning, parsed.LocationOf("Resources", u.Key), name, "Resources", u.Key,
                    u.Kind == UnhonouredKind.Ignored
                        ? $"[Resources] {u.Key}: {u.Reason}; the rest of the list applies"
                        : $"[Resources] {u.Key} cannot be honoured on this host: {u.Reason}{(error ? "" : "; the rest of the unit's limits apply")}"));
            }
            if (fatal)
            {
                units.Remove(name);
                bad[name] = parsed.Definition.Sources[0];
            }
        }
        return new UnitSet(units, bad, diagnostics);
    }

    /// <summary>
    /// What `check` can say without a daemon: the keys this host's cgroup version cannot enforce at
    /// all (the address and bind filters on v1), as errors on the unit. Nothing else about the host
    /// is looked at, so units checked here for another machine are not judged by this one's devices.
    /// </summary>
    public static UnitSet CgroupVersion(UnitSet set, CgroupLayout layout)
    {
        if (layout.IsV2) return set;
        var driver = CgroupDriver.Create(layout);
        var diagnostics = set.Diagnostics.ToList();
        var units = new Dictionary<string, ParsedUnit>(set.Units, StringComparer.Ordinal);
        var bad = new Dictionary<string, string>(set.BadUnits, StringComparer.Ordinal);
        foreach (var (name, parsed) in set.Units)
        {
            var r = parsed.Definition.Resources;
            var bpfOnly = ResourceMapping.Map(new ResourcesSection
            {
                IPAddressAllow = r.IPAddressAllow, IPAddressDeny = r.IPAddressDeny, SocketBindAllow = r.SocketBindAllow, SocketBindDeny = r.SocketBindDeny,
            });
            try
            {
                driver.Validate(bpfOnly);
            }
            catch (CgroupLimitException e)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Resources", e.Key), name, "Resources", e.Key, $"[Resources] {e.Message}"));
                units.Remove(name);
                bad[name] = parsed.Definition.Sources[0];
            }
        }
        return new UnitSet(units, bad, diagnostics);
    }
}
