using System.CommandLine;
using Supervisor.Import;
using Supervisor.Import.Output;
using Supervisor.Import.Translate;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor import FILE.service|DIR … [--out DIR] [--check] [--force]`: systemd units in,
/// TOML units out, with every directive not carried listed as file:line: Key: why.
/// </summary>
public static class ImportCommand
{
    /// <summary>Everything was read and written (or checked), but something with an effect was left out or kept unexpanded.</summary>
    public const int NotAllCarried = 3;

    public static Command Build(TextWriter output, TextWriter error)
    {
        var paths = new Argument<string[]>("PATH")
        {
            Description = "systemd .service or .slice files (their drop-ins are found beside them), or directories of them",
            Arity = ArgumentArity.OneOrMore,
        };
        var outDir = new Option<string?>("--out") { Description = "the directory to write NAME.toml into (default: the current directory)" };
        var check = new Option<bool>("--check") { Description = "write nothing; print, per systemd directive, in how many of the units it could not be carried and why" };
        var force = new Option<bool>("--force") { Description = "replace unit files that exist already" };
        var command = new Command("import", "Convert systemd unit files to TOML units; list every directive not carried as file:line: Key: why.")
        {
            paths, outDir, check, force,
        };
        command.SetAction(result => Run(result.GetValue(paths) ?? [], result.GetValue(outDir), result.GetValue(check), result.GetValue(force), output, error));
        return command;
    }

    /// <summary>
    /// Exit codes: 0 every directive with an effect carried; 3 written (or checked), but something
    /// with an effect was left out or kept unexpanded (listed); 1 a unit could not be written (it
    /// stays invalid, a file exists without --force, a write failed); 2 bad input (an argument that
    /// is not a unit file or directory, which stops everything, or a unit file systemd could not read either).
    /// </summary>
    public static int Run(string[] paths, string? outDir, bool checkOnly, bool force, TextWriter output, TextWriter error)
    {
        var options = new ImportOptions(outDir ?? Directory.GetCurrentDirectory(), force, checkOnly);
        var result = Importer.Run(paths, options);
        foreach (var note in result.Input)
            (note.IsError ? error : output).WriteLine(TomlText.Comment(note.IsError ? $"supervisor: {note}" : note.ToString()));
        if (result.Input.Any(n => n.Kind == Supervisor.Import.Ini.InputKind.BadArgument))
        {
            error.WriteLine("supervisor: nothing imported");
            return ExitCodes.Usage;
        }
        if (checkOnly) output.Write(Coverage.Render(result.Units));
        else PrintUnits(result, options.OutputDirectory, output, error);
        if (result.BadInput) return ExitCodes.Usage;
        if (result.NotWritten) return ExitCodes.Failure;
        return result.LostMeaning ? NotAllCarried : ExitCodes.Ok;
    }

    private static void PrintUnits(ImportResult result, string outDir, TextWriter output, TextWriter error)
    {
        foreach (var u in result.Units)
        {
            var target = Path.Combine(outDir, u.FileName);
            var state = u.Unwritable is { } why ? $"not written: {why}"
                : result.Written.Contains(target) ? $"→ {target}" : $"not written ({target})";
            output.WriteLine(TomlText.Comment($"{u.Source.Path} {state}"));
            foreach (var n in u.NotCarried.OrderBy(n => n.Location.Path, StringComparer.Ordinal).ThenBy(n => n.Location.Line))
                output.WriteLine(TomlText.Comment("  " + n));
            foreach (var note in u.Report.Notes)
                output.WriteLine(TomlText.Comment("  note: " + note));
        }
        foreach (var path in result.Refused)
            error.WriteLine(TomlText.Comment($"supervisor: {path} exists; nothing was written (use --force to replace it)"));
        foreach (var e in result.WriteErrors)
            error.WriteLine(TomlText.Comment($"supervisor: {e}"));
        int complete = result.Units.Count(u => !u.LostMeaning);
        int unwritable = result.Units.Count(u => u.Unwritable is not null);
        output.WriteLine($"{result.Units.Count} unit{(result.Units.Count == 1 ? "" : "s")}: {result.Written.Count} written to {outDir}, " +
            $"{complete} carried completely, {result.Units.Count - complete - unwritable} with something left out, {unwritable} not writable");
    }
}
