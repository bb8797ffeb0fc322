namespace Supervisor.Units;

public enum Severity
{
    Error,
    Warning,
}

/// <summary>
/// A position in a unit file. Line and column are 1-based, as editors and compilers show them.
/// A file-level problem (unreadable, too large) has line and column 0 and prints as the path alone.
/// </summary>
public readonly record struct SourceLocation(string Path, int Line, int Column)
{
    public static SourceLocation File(string path) => new(path, 0, 0);

    public override string ToString() => Line > 0 ? $"{Path}:{Line}:{Column}" : Path;
}

/// <summary>
/// One problem found in a unit file: where, which unit and key, and what is wrong.
/// <see cref="ToString"/> is the line a person reads, e.g.
/// <c>units/web.toml:12:1: web: unknown key 'MemoryMaxx' in [Resources]; did you mean 'MemoryMax'?</c>
/// </summary>
public sealed record Diagnostic(
    Severity Severity,
    SourceLocation Location,
    string Unit,
    string? Section,
    string? Key,
    string Message,
    string? Hint = null)
{
    public string Text => Hint is null ? Message : $"{Message}; {Hint}";

    public override string ToString()
    {
        var level = Severity == Severity.Warning ? "warning: " : "";
        return $"{Location}: {level}{Unit}: {Text}";
    }
}

/// <summary>Thrown by value parsers; the caller adds file, unit and key.</summary>
public sealed class UnitValueException(string message, string? hint = null) : Exception(message)
{
    public string? Hint { get; } = hint;
}
