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
        return Printable($"{Location}: {level}{Unit}: {Text}");
    }

    /// <summary>
    /// A unit file's own text reaches messages (a bad unit name, the parser's view of a bad
    /// token). Its control characters are shown as \uXXXX: a newline would forge further lines
    /// of <c>check</c>'s output, an escape sequence would reach the user's terminal.
    /// </summary>
    private static string Printable(string line)
    {
        if (!line.Any(char.IsControl)) return line;
        var sb = new System.Text.StringBuilder(line.Length + 16);
        foreach (var c in line)
        {
            if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }
}

/// <summary>Thrown by value parsers; the caller adds file, unit and key.</summary>
public sealed class UnitValueException(string message, string? hint = null) : Exception(message)
{
    public string? Hint { get; } = hint;
}
