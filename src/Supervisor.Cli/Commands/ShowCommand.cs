using System.CommandLine;
using Supervisor.Units;
using Supervisor.Units.Values;

namespace Supervisor.Cli.Commands;

/// <summary>`supervisor show UNIT --units DIR`: the effective unit after drop-ins, with defaults, as TOML or JSON.</summary>
public static class ShowCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "unit name (file name without .toml), e.g. web or batch.slice" };
        var units = new Option<string?>("--units") { Description = $"the units directory (default: the running daemon's, else {Cli.DefaultUnitsDirectory})" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of TOML" };
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var command = new Command("show", "Print a unit's effective settings after drop-ins, defaults included.") { unit, units, json, runtime, timeout };
        command.SetAction(result =>
        {
            var name = Normalize(result.GetValue(unit)!);
            var client = ClientOptions.From(result, runtime, timeout);
            var paths = result.GetValue(units) is { } given ? DaemonPaths.Defaults.Override(given, null)
                : DaemonPaths.Resolve(client, error, name);
            int code = Run(name, paths, result.GetValue(json), output, error);
            if (code == ExitCodes.Ok && !result.GetValue(json)) DynamicUserNote(name, client, output, error);
            return code;
        });
        return command;
    }

    /// <summary>
    /// A DynamicUser unit the daemon runs: the pair it was given, as a TOML comment after the
    /// settings (it is no setting, and the TOML still parses back to the same unit).
    /// </summary>
    private static void DynamicUserNote(string name, ClientOptions client, TextWriter output, TextWriter error)
    {
        var note = DaemonClient.TryAsk(client, error, c =>
        {
            Dictionary<string, object> p;
            try
            {
                p = c.UnitProperties(name);
            }
            catch (DBus.DBusErrorException e) when (e.ErrorName == Control.ControlApi.NoSuchUnitError)
            {
                return null; // the daemon does not run this unit (another units directory)
            }
            return p.GetValueOrDefault("DynamicUser") is true && p.GetValueOrDefault("UID") is uint uid && uid != uint.MaxValue
                ? $"# DynamicUser: the running daemon gave this unit uid {uid} and gid {p.GetValueOrDefault("GID")}\n" : null;
        });
        if (note is not null) output.Write(note);
    }

    private static string Normalize(string name) =>
        name.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) ? name[..^UnitLoader.UnitSuffix.Length] : name;

    internal static int Run(string name, DaemonPaths paths, bool json, TextWriter output, TextWriter error)
    {
        var unitsDirectory = paths.UnitsDirectory;
        if (!Directory.Exists(unitsDirectory))
        {
            error.WriteLine($"supervisor: units directory {paths.DescribeUnits()} does not exist (use --units DIR)");
            return ExitCodes.Failure;
        }
        var set = UnitLoader.LoadDirectory(unitsDirectory);
        if (set.Units.TryGetValue(name, out var parsed))
        {
            foreach (var d in set.DiagnosticsFor(name)) error.WriteLine(d.ToString());
            output.Write(json ? UnitFormatter.ToJson(parsed.Definition) + "\n" : UnitFormatter.ToToml(parsed.Definition));
            return ExitCodes.Ok;
        }
        if (set.BadUnits.ContainsKey(name))
        {
            foreach (var d in set.DiagnosticsFor(name)) error.WriteLine(d.ToString());
            error.WriteLine($"supervisor: unit '{name}' is not valid (bad-setting); fix the errors above");
            return ExitCodes.Failure;
        }
        var hint = Suggest.Hint(name, set.Units.Keys.Concat(set.BadUnits.Keys));
        error.WriteLine($"supervisor: no unit '{name}' in {paths.DescribeUnits()}" + (hint is null ? "" : $"; {hint}"));
        return ExitCodes.Failure;
    }
}
