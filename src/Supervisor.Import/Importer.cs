using Supervisor.Import.Ini;
using Supervisor.Import.Output;
using Supervisor.Import.Translate;
using Supervisor.Units;

namespace Supervisor.Import;

public sealed record ImportOptions(string OutputDirectory, bool Force = false, bool CheckOnly = false);

/// <summary>What an import did: the remarks on its input, every unit translated, and the files written or refused.</summary>
public sealed class ImportResult
{
    public required IReadOnlyList<InputNote> Input { get; init; }
    public required IReadOnlyList<Candidate> Units { get; init; }
    public List<string> Written { get; } = [];
    /// <summary>Files that exist already (without --force): nothing is written then.</summary>
    public List<string> Refused { get; } = [];
    public List<string> WriteErrors { get; } = [];

    public bool BadInput => Input.Any(n => n.IsError);
    public bool NotWritten => Units.Any(u => u.Unwritable is not null) || Refused.Count > 0 || WriteErrors.Count > 0;
    public bool LostMeaning => Units.Any(u => u.LostMeaning);
}

/// <summary>
/// <c>supervisor import</c>: reads systemd units with their drop-ins, translates each, runs the
/// result through Supervisor's loader, and writes NAME.toml for each unit the loader accepts.
/// An argument that is not a unit stops it before anything is written.
/// </summary>
public static class Importer
{
    public static ImportResult Run(IReadOnlyList<string> paths, ImportOptions options)
    {
        var (units, notes) = UnitSources.Discover(paths);
        if (notes.Any(n => n.Kind == InputKind.BadArgument)) return new ImportResult { Input = notes, Units = [] };
        var candidates = units.Select(UnitTranslator.Translate).ToList();
        ParserCheck.Run(candidates, ExistingUnits(options.OutputDirectory));
        var result = new ImportResult { Input = notes, Units = candidates };
        if (!options.CheckOnly) Write(candidates, options, result);
        return result;
    }

    /// <summary>The units already in the output directory, which the imported ones may depend on.</summary>
    private static List<string> ExistingUnits(string dir)
    {
        if (!Directory.Exists(dir)) return [];
        return [.. Directory.EnumerateFiles(dir, "*" + UnitLoader.UnitSuffix).Select(f => Path.GetFileName(f)[..^UnitLoader.UnitSuffix.Length])];
    }

    private static void Write(List<Candidate> candidates, ImportOptions options, ImportResult result)
    {
        var writable = candidates.Where(c => c.Unwritable is null).ToList();
        var targets = writable.ToDictionary(c => c, c => Path.Combine(options.OutputDirectory, c.FileName));
        if (!options.Force)
            result.Refused.AddRange(targets.Values.Where(t => File.Exists(t) || Directory.Exists(t) || new FileInfo(t).LinkTarget is not null));
        if (result.Refused.Count > 0) return;
        try
        {
            Directory.CreateDirectory(options.OutputDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            result.WriteErrors.Add($"{options.OutputDirectory}: cannot create the directory: {e.Message}");
            return;
        }
        foreach (var (c, target) in targets)
        {
            // Written beside the target and renamed over it: a reader never sees half a unit.
            var temp = Path.Combine(options.OutputDirectory, $".{c.FileName}.{Guid.NewGuid():N}.tmp");
            try
            {
                File.WriteAllText(temp, TomlText.Render(c));
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                File.Move(temp, target, overwrite: true);
                result.Written.Add(target);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result.WriteErrors.Add($"{target}: cannot write: {e.Message}");
                File.Delete(temp);
            }
        }
    }
}
