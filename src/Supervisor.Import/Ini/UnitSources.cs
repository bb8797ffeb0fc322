using Supervisor.Units;

namespace Supervisor.Import.Ini;

/// <summary>A systemd unit as systemd would load it: its name, its file, and its drop-ins in the order they apply.</summary>
public sealed record SystemdUnit(SystemdUnitName Name, string Path, IReadOnlyList<IniFile> Files)
{
    /// <summary>Every assignment of the unit file and then of each drop-in, in the order systemd applies them.</summary>
    public IEnumerable<IniAssignment> Assignments => Files.SelectMany(f => f.Assignments);
}

/// <summary>What kind of remark on the input: an argument that is not a unit, a unit file systemd could not read either, or a remark (a unit skipped, an alias).</summary>
public enum InputKind { BadArgument, BadFile, Remark }

/// <summary>Something about the input itself, with the path it is about.</summary>
public sealed record InputNote(string Path, string Message, InputKind Kind)
{
    public bool IsError => Kind != InputKind.Remark;

    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// Finds the units named on the command line (files, or directories of them) and reads each with
/// its drop-ins. A drop-in directory is searched where systemd would search it next to the unit:
/// NAME.d, the template's, the dash-prefixes' (foo-.service.d) and the type's (service.d), most
/// specific first; of drop-ins with the same file name the most specific wins, and all apply in
/// lexical order of their file names (systemd.unit(5), "Drop-in files"). A drop-in that is a link
/// to /dev/null or empty masks the ones of its name and adds nothing.
/// </summary>
public static class UnitSources
{
    /// <summary>The unit types Supervisor has: a .service becomes NAME.toml, a .slice NAME.slice.toml, a .socket NAME.socket.toml.</summary>
    public static readonly IReadOnlyList<string> ImportedTypes = ["service", "slice", "socket"];

    public static (List<SystemdUnit> Units, List<InputNote> Notes) Discover(IEnumerable<string> paths)
    {
        var notes = new List<InputNote>();
        var found = new List<(SystemdUnitName Name, string Path)>();
        foreach (var raw in paths)
        {
            var path = raw.Length > 1 ? raw.TrimEnd('/') : raw;
            if (Directory.Exists(path)) FindInDirectory(path, found, notes);
            else if (File.Exists(path) || IsDanglingLink(path)) FindFile(path, found, notes);
            else notes.Add(new InputNote(raw, "no such file or directory", InputKind.BadArgument));
        }
        var units = new List<SystemdUnit>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, path) in found)
            if (Load(name, path, seen, notes) is { } unit) units.Add(unit);
        return (units, notes);
    }

    private static bool IsDanglingLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static void FindFile(string path, List<(SystemdUnitName, string)> found, List<InputNote> notes)
    {
        var fileName = System.IO.Path.GetFileName(path);
        var name = SystemdUnitName.Parse(fileName);
        if (name is null)
            notes.Add(new InputNote(path, "not a systemd unit file: its name must be NAME.service, NAME.slice or NAME.socket", InputKind.BadArgument));
        else if (!ImportedTypes.Contains(name.Type))
            notes.Add(new InputNote(path, $"Supervisor has no .{name.Type} units; only .service, .slice and .socket files are imported", InputKind.BadArgument));
        else
            found.Add((name, path));
    }

    private static void FindInDirectory(string dir, List<(SystemdUnitName, string)> found, List<InputNote> notes)
    {
        var skipped = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
        {
            var fileName = System.IO.Path.GetFileName(entry);
            if (fileName.StartsWith('.') || Directory.Exists(entry)) continue;
            if (SystemdUnitName.Parse(fileName) is not { } name) continue;
            if (ImportedTypes.Contains(name.Type)) found.Add((name, entry));
            else skipped[name.Type] = skipped.GetValueOrDefault(name.Type) + 1;
        }
        if (skipped.Count > 0)
            notes.Add(new InputNote(dir, "skipped units of types Supervisor does not have: " +
                string.Join(", ", skipped.Select(kv => $"{kv.Value} .{kv.Key}")), InputKind.Remark));
    }

    private static SystemdUnit? Load(SystemdUnitName name, string path, HashSet<string> seen, List<InputNote> notes)
    {
        if (UnitFiles.IsMasked(path))
        {
            notes.Add(new InputNote(path, "masked (a link to /dev/null or an empty file): nothing to import", InputKind.Remark));
            return null;
        }
        var names = new List<SystemdUnitName> { name };
        var file = path;
        // A link to a unit of another name is an alias (systemctl enable makes them from Alias=):
        // the unit is the target, and it is imported once, under the target's name.
        if (new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true) is { } target
            && SystemdUnitName.Parse(target.Name) is { } real && real.Type == name.Type && real.Full != name.Full)
        {
            notes.Add(new InputNote(path, $"an alias of {real.Full}; imported as {real.Full}", InputKind.Remark));
            names.Insert(0, real);
            file = target.FullName;
        }
        if (!seen.Add(names[0].Full))
        {
            if (names.Count == 1) notes.Add(new InputNote(path, $"{name.Full} is given more than once; imported once", InputKind.Remark));
            return null;
        }
        try
        {
            var files = new List<IniFile> { SystemdIniReader.Parse(UnitFiles.Read(file), file) };
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? "/";
            foreach (var dropIn in DropIns(dir, names))
                files.Add(UnitFiles.IsMasked(dropIn) ? IniFile.Empty(dropIn) : SystemdIniReader.Parse(UnitFiles.Read(dropIn), dropIn));
            return new SystemdUnit(names[0], file, files);
        }
        catch (UnitFileException e)
        {
            notes.Add(new InputNote(e.Path, e.Message, InputKind.BadFile));
        }
        catch (SystemdFileException e)
        {
            notes.Add(new InputNote(e.Location.ToString(), e.Message, InputKind.BadFile));
        }
        return null;
    }

    /// <summary>The drop-ins that apply, in the order they apply.</summary>
    public static List<string> DropIns(string dir, IReadOnlyList<SystemdUnitName> names)
    {
        var dirs = names.SelectMany(n => n.DropInNames()).Append(names[0].Type)
            .Select(n => System.IO.Path.Combine(dir, n + ".d")).Distinct(StringComparer.Ordinal);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var d in dirs.Where(Directory.Exists))
            foreach (var f in Directory.EnumerateFileSystemEntries(d))
            {
                var fileName = System.IO.Path.GetFileName(f);
                // The most specific directory comes first, and its file of a name wins.
                if (fileName.EndsWith(".conf", StringComparison.Ordinal) && !fileName.StartsWith('.') && !Directory.Exists(f))
                    byName.TryAdd(fileName, f);
            }
        if (byName.Count > Limits.MaxDropIns)
            throw new UnitFileException(System.IO.Path.Combine(dir, names[0].Full + ".d"), $"more than {Limits.MaxDropIns} drop-ins");
        return [.. byName.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value)];
    }
}
