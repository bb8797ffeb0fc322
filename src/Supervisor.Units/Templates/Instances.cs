using Supervisor.Units.Model;

namespace Supervisor.Units.Templates;

/// <summary>
/// Template units (systemd.unit(5)): a file "NAME@.toml" is not a unit but the text of every
/// unit "NAME@INSTANCE". An instance exists when something asks for it: a Wants/Requires/BindsTo
/// naming it, a <c>supervisor start NAME@INSTANCE</c>, or a symlink or empty file
/// "NAME@INSTANCE.toml" beside the template (systemd's enablement symlink). A non-empty regular
/// file "NAME@INSTANCE.toml" is a unit of its own and wins over the template, as in systemd.
/// </summary>
public static class Instances
{
    /// <summary>Whether the directory entry "NAME@INSTANCE.toml" stands for an instance of its template (a symlink, or empty).</summary>
    public static bool IsInstanceLink(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.LinkTarget is not null || (info.Exists && info.Length == 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The dependencies that pull an instance into existence (as they pull a unit into a start).</summary>
    public static IEnumerable<string> Pulled(UnitDefinition unit) =>
        unit.Unit.Requires.Concat(unit.Unit.Wants).Concat(unit.Unit.BindsTo);

    /// <summary>Every unit name a unit refers to in [Unit].</summary>
    public static IEnumerable<string> Referenced(UnitDefinition unit) =>
        Pulled(unit).Concat(unit.Unit.After).Concat(unit.Unit.Before).Concat(unit.Unit.PartOf).Concat(unit.Unit.Conflicts).Concat(unit.Unit.Requisite);

    /// <summary>
    /// The drop-in files of an instance, in the order they apply: those of the template
    /// ("NAME@.toml.d/") and of the instance ("NAME@INSTANCE.toml.d/") sorted together by file
    /// name, where an instance's file replaces the template's file of the same name (systemd's rule).
    /// </summary>
    public static IReadOnlyList<string> DropIns(IEnumerable<string> directories, string suffix)
    {
        var byName = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in directories)
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.EnumerateFileSystemEntries(dir))
            {
                var fileName = Path.GetFileName(f);
                if (fileName.EndsWith(suffix, StringComparison.Ordinal) && !fileName.StartsWith('.')) byName[fileName] = f;
            }
        }
        return [.. byName.Values];
    }
}
