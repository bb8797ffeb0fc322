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
        var units = new Option<string>("--units") { Description = "the units directory", DefaultValueFactory = _ => Cli.DefaultUnitsDirectory };
        var json = new Option<bool>("--json") { Description = "print JSON instead of TOML" };
        var command = new Command("show", "Print a unit's effective settings after drop-ins, defaults included.") { unit, units, json };
        command.SetAction(result => Run(result.GetValue(unit)!, result.GetValue(units)!, result.GetValue(json), output, error));
        return command;
    }

    public static int Run(string name, string unitsDirectory, bool json, TextWriter output, TextWriter error)
    {
        if (name.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal)) name = name[..^UnitLoader.UnitSuffix.Length];
        if (!Directory.Exists(unitsDirectory))
        {
            error.WriteLine($"supervisor: units directory '{unitsDirectory}' does not exist (use --units DIR)");
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
        error.WriteLine($"supervisor: no unit '{name}' in '{unitsDirectory}'" + (hint is null ? "" : $"; {hint}"));
        return ExitCodes.Failure;
    }
}
