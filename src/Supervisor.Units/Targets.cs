using Supervisor.Units.Model;

namespace Supervisor.Units;

/// <summary>
/// Target units (systemd.target(5)): "NAME.target.toml" holds only [Unit] keys; it runs nothing
/// and has no cgroup; starting it makes it active and pulls in its Wants/Requires, and it is
/// ordered after them unless they are ordered after it (systemd's implicit After= of a target
/// on what it wants). The well-known targets systemd's own units name exist here without a file,
/// as targets that are always reached: After=network.target orders nothing (the network is up
/// before the supervisor runs) and Wants=network-online.target is satisfied.
/// </summary>
public static class Targets
{
    public const string Suffix = ".target";

    /// <summary>systemd.special(7)'s targets a packaged unit may name; with no file of that name each is always active.</summary>
    public static readonly IReadOnlySet<string> WellKnown = new HashSet<string>(StringComparer.Ordinal)
    {
        "basic.target", "multi-user.target", "graphical.target", "default.target", "sysinit.target", "local-fs.target",
        "local-fs-pre.target", "remote-fs.target", "remote-fs-pre.target", "network.target", "network-online.target",
        "network-pre.target", "nss-lookup.target", "nss-user-lookup.target", "time-sync.target", "time-set.target",
        "sockets.target", "timers.target", "paths.target", "slices.target", "swap.target", "cryptsetup.target",
        "getty.target", "getty-pre.target", "rpcbind.target", "remote-cryptsetup.target", "emergency.target",
        "rescue.target", "shutdown.target", "umount.target", "final.target", "printer.target", "sound.target",
        "bluetooth.target", "smartcard.target", "usb.target", "sysinit.target", "first-boot-complete.target",
        "initrd.target", "initrd-root-fs.target", "initrd-fs.target", "ssh-access.target", "machines.target",
    };

    public static bool IsTarget(string name) => name.EndsWith(Suffix, StringComparison.Ordinal) && name.Length > Suffix.Length;

    /// <summary>
    /// The units <paramref name="target"/> is implicitly ordered after: each unit it Wants or
    /// Requires that exists, unless that unit is ordered after the target already (systemd's
    /// unit_add_default_target_dependency: "don't create loops").
    /// </summary>
    public static IEnumerable<string> ImplicitAfter(UnitDefinition target, Func<string, UnitDefinition?> lookup)
    {
        if (target.Kind != UnitKind.Target) yield break;
        foreach (var name in target.Unit.Wants.Concat(target.Unit.Requires).Distinct(StringComparer.Ordinal))
        {
            if (lookup(name) is not { } other) continue;
            if (target.Unit.Before.Contains(name) || other.Unit.After.Contains(target.Name)) continue;
            yield return name;
        }
    }
}
