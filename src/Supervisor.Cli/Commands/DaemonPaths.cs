using Supervisor.Cli.Control;
using Supervisor.DBus;

namespace Supervisor.Cli.Commands;

/// <summary>
/// Where a client command finds what the daemon uses: the units directory (the declaration of a
/// unit), the unit logs and the cgroup subtree. An option given on the command line wins; else
/// the running daemon says (it may have been started with --units ./units); only when no daemon
/// answers do the defaults apply. The state directory holds what learn mode recorded.
/// </summary>
internal sealed record DaemonPaths(string UnitsDirectory, string LogDirectory, string CgroupRoot, DaemonPaths.Source UnitsFrom,
    string StateDirectory = ControlCommands.DefaultStateDirectory)
{
    public enum Source { Default, Daemon, Option }

    public const string DefaultCgroupRoot = "supervisor";

    public static DaemonPaths Defaults { get; } = new(Cli.DefaultUnitsDirectory, Path.Combine(ControlCommands.DefaultStateDirectory, "logs"), DefaultCgroupRoot, Source.Default);

    /// <summary>The units directory for a message, and where it came from when that is not obvious.</summary>
    public string DescribeUnits() => UnitsFrom switch
    {
        Source.Daemon => $"'{UnitsDirectory}' (the running daemon's units directory)",
        Source.Default => $"'{UnitsDirectory}' (the default, as no daemon answered)",
        _ => $"'{UnitsDirectory}'",
    };

    /// <summary>What the daemon says, with the defaults for what an older daemon does not say.</summary>
    public static DaemonPaths Ask(DaemonClient client, string? unit)
    {
        // The four go out in one write.
        var (unitsCall, logsCall, cgroupCall, stateCall) = (client.PostManagerProperty("UnitsDirectory"), client.PostManagerProperty("LogDirectory"),
            client.PostManagerProperty("CgroupRoot"), client.PostManagerProperty("StateDirectory"));
        var units = client.OptionalManagerProperty(unitsCall);
        var logs = client.OptionalManagerProperty(logsCall);
        var cgroupRoot = client.OptionalManagerProperty(cgroupCall);
        var state = client.OptionalManagerProperty(stateCall);
        units ??= FragmentDirectory(client, unit);
        return new(units ?? Defaults.UnitsDirectory, logs ?? Defaults.LogDirectory, cgroupRoot ?? Defaults.CgroupRoot, units is null ? Source.Default : Source.Daemon,
            state ?? Defaults.StateDirectory);
    }

    /// <summary>The daemon's paths when one answers, else the defaults.</summary>
    public static DaemonPaths Resolve(ClientOptions options, TextWriter error, string? unit) =>
        DaemonClient.TryAsk(options, error, c => Ask(c, unit)) ?? Defaults;

    /// <summary>--units and --cgroup-root if given, else the daemon's, else the defaults.</summary>
    public static DaemonPaths WithUnits(string? units, string? cgroupRoot, ClientOptions options, TextWriter error, string unit) =>
        (units is not null && cgroupRoot is not null ? Defaults : Resolve(options, error, unit)).Override(units, cgroupRoot);

    /// <summary>What the command line says wins over what the daemon says.</summary>
    public DaemonPaths Override(string? units, string? cgroupRoot)
    {
        var paths = this;
        if (units is not null) paths = paths with { UnitsDirectory = units, UnitsFrom = Source.Option };
        if (cgroupRoot is not null) paths = paths with { CgroupRoot = cgroupRoot };
        return paths;
    }

    /// <summary>A daemon without UnitsDirectory still names each loaded unit's file (FragmentPath, as systemd does).</summary>
    private static string? FragmentDirectory(DaemonClient client, string? unit)
    {
        if (unit is null) return null;
        try
        {
            var path = (ObjectPath)client.ManagerCall("GetUnit", "s", unit)[0];
            return client.Get(path.ToString(), ControlApi.UnitInterface, "FragmentPath") is string { Length: > 0 } fragment ? Path.GetDirectoryName(fragment) : null;
        }
        catch (DBusErrorException e) when (e.ErrorName == ControlApi.NoSuchUnitError)
        {
            return null;
        }
    }
}
