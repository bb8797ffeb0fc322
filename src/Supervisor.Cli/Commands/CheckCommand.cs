using System.CommandLine;
using System.Text.Json;
using Supervisor.Units;

namespace Supervisor.Cli.Commands;

/// <summary>`supervisor check [PATH…]`: validate unit files offline; exit 0 when all are valid, 1 when any is not.</summary>
public static class CheckCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var paths = new Argument<string[]>("PATH")
        {
            Description = $"unit files or directories of unit files (default: {Cli.DefaultUnitsDirectory})",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = new Option<bool>("--json") { Description = "print the diagnostics as JSON" };
        var command = new Command("check", "Validate unit files and report every problem with file:line:col; exit 1 if any unit is invalid.")
        {
            paths, json,
        };
        command.SetAction(result => Run(result.GetValue(paths) ?? [], result.GetValue(json), output));
        return command;
    }

    public static int Run(string[] paths, bool json, TextWriter output)
    {
        if (paths.Length == 0) paths = [Cli.DefaultUnitsDirectory];
        var set = UnitLoader.Load(paths);
        if (json)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteBoolean("valid", !set.HasErrors);
                w.WriteStartArray("units");
                foreach (var name in set.Units.Keys.Concat(set.BadUnits.Keys).Order(StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    w.WriteString("name", name);
                    w.WriteBoolean("valid", set.Units.ContainsKey(name));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("diagnostics");
                foreach (var d in set.Diagnostics) UnitFormatter.WriteJson(w, d);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
        else
        {
            foreach (var d in set.Diagnostics) output.WriteLine(d.ToString());
            int total = set.Units.Count + set.BadUnits.Count;
            var summary = set.BadUnits.Count == 0
                ? $"{total} unit{(total == 1 ? "" : "s")} checked, all valid"
                : $"{total} unit{(total == 1 ? "" : "s")} checked, {set.BadUnits.Count} invalid: {string.Join(", ", set.BadUnits.Keys.Order(StringComparer.Ordinal))}";
            if (set.HasErrors && set.BadUnits.Count == 0) summary = $"{total} units checked; errors found";
            if (total == 0 && !set.HasErrors) summary = NothingToCheck(paths);
            output.WriteLine(summary);
        }
        return set.HasErrors || set.Units.Count + set.BadUnits.Count == 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }

    /// <summary>No *.toml at all: say so, and when the directories hold systemd's unit files, how to convert them.</summary>
    private static string NothingToCheck(string[] paths)
    {
        var systemd = paths.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.service").Select(f => (Dir: d, File: f)))
            .ToList();
        var message = $"no unit files (*.toml) in {string.Join(", ", paths.Select(p => $"'{p}'"))}";
        if (systemd.Count == 0) return message;
        var dir = systemd[0].Dir;
        return $"{message}; {(systemd.Count == 1 ? "there is 1 systemd unit file" : $"there are {systemd.Count} systemd unit files")} (*.service): " +
            $"convert them with 'supervisor import {dir} --out DIR', then check DIR";
    }
}
