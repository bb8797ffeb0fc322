using Supervisor.Units;

namespace Supervisor.Import.Ini;

/// <summary>
/// One <c>Key=Value</c> of a systemd unit file as systemd reads it: the logical line after
/// continuation lines are joined, key and value stripped of surrounding whitespace. The location is
/// where the key stands (the first physical line of a continued assignment).
/// </summary>
public sealed record IniAssignment(string Section, string Key, string Value, SourceLocation Location);

/// <summary>A line systemd reads and ignores with a warning (no '=', outside any section), with systemd's reason.</summary>
public sealed record IniIgnoredLine(SourceLocation Location, string Reason);

/// <summary>A unit file or drop-in as read: its assignments in file order, and the lines systemd would ignore.</summary>
public sealed record IniFile(string Path, IReadOnlyList<IniAssignment> Assignments, IReadOnlyList<IniIgnoredLine> Ignored)
{
    /// <summary>A drop-in that masks another of the same name (a link to /dev/null or an empty file): it contributes nothing.</summary>
    public static IniFile Empty(string path) => new(path, [], []);
}

/// <summary>A file systemd itself refuses to load (a bad section header, bytes that are not UTF-8): the unit cannot be imported.</summary>
public sealed class SystemdFileException(SourceLocation location, string message) : Exception(message)
{
    public SourceLocation Location { get; } = location;

    public override string ToString() => $"{Location}: {Message}";
}
