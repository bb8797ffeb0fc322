using System.Globalization;

namespace Supervisor.Cgroups;

/// <summary>
/// The device and network keys a host cannot enforce: the address and bind filters exist only as
/// cgroup BPF programs, which the kernel attaches to cgroup v2 directories alone, and every BPF
/// key needs a kernel that lets us load programs. Such a unit is refused (bad-setting) with the
/// reason, never run unfiltered.
/// </summary>
internal static class AccessValidation
{
    public static void Validate(ResourceLimits l, DriverContext ctx)
    {
        if (!ctx.Layout.IsV2)
        {
            foreach (var (key, declared) in V2Only(l))
            {
                if (declared)
                {
                    throw new CgroupLimitException(key, NeedsV2(key, ctx.Layout));
                }
            }
        }
        else if (NeedsBpf(l) is { } key && ctx.BpfUnsupported.Value is { } why)
        {
            throw new CgroupLimitException(key, $"cannot be enforced: {why}");
        }
        if (l.HasDevices && DeviceRuleSet.Resolve(l, ctx) is { } set && set.Rules.Count > CgroupConstants.MaxDeviceRules)
        {
            throw new CgroupLimitException(ResourceKeys.DeviceAllow,
                $"resolves to {set.Rules.Count.ToString(CultureInfo.InvariantCulture)} device rules; at most {CgroupConstants.MaxDeviceRules.ToString(CultureInfo.InvariantCulture)} fit in one device program (use a class like \"char-NAME\" instead of many single devices)");
        }
    }

    /// <summary>The keys that exist only as cgroup BPF programs (v1 has no file for them).</summary>
    private static IEnumerable<(string Key, bool Declared)> V2Only(ResourceLimits l) =>
    [
        (ResourceKeys.IPAddressAllow, l.IPAddressAllow is { Count: > 0 }),
        (ResourceKeys.IPAddressDeny, l.IPAddressDeny is { Count: > 0 }),
        (ResourceKeys.SocketBindAllow, l.SocketBindAllow is { Count: > 0 }),
        (ResourceKeys.SocketBindDeny, l.SocketBindDeny is { Count: > 0 }),
    ];

    internal static string NeedsV2(string key, CgroupLayout layout)
    {
        var what = key.StartsWith("IPAddress", StringComparison.Ordinal)
            ? "an ingress and an egress packet filter (BPF_CGROUP_INET_INGRESS/EGRESS)"
            : "a bind() filter (BPF_CGROUP_INET4_BIND/INET6_BIND)";
        return $"needs cgroup v2: it is enforced by {what} attached to the unit's cgroup, and the kernel attaches "
            + $"cgroup BPF programs only to cgroup v2 directories; this host runs units in {layout.Describe().Split(';')[0]}; "
            + "the unit is not started rather than run without the filter";
    }

    /// <summary>The first declared key that needs a BPF program, or null.</summary>
    private static string? NeedsBpf(ResourceLimits l)
    {
        if (l.DevicePolicy is DevicePolicy.Closed or DevicePolicy.Strict || l.DeviceAllow is { Count: > 0 })
        {
            return l.DeviceAllow is { Count: > 0 } ? ResourceKeys.DeviceAllow : ResourceKeys.DevicePolicy;
        }
        return V2Only(l).FirstOrDefault(k => k.Declared).Key;
    }
}
