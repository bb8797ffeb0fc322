using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux.Files;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Supervisor.Units.Syntax;

/// <summary>
/// Reads one unit file or drop-in from disk into a <see cref="TomlDocument"/>. Only this file and
/// <see cref="TomlTreeBuilder"/> know about Tomlyn. Every way a file can be bad (unreadable, a
/// directory or a FIFO, too large, not UTF-8, empty, nested absurdly deep, absurdly many keys,
/// not TOML) becomes a <see cref="Diagnostic"/>; nothing here throws for bad input, and nothing
/// here blocks or costs more than linear time in the size of the file.
/// </summary>
public static class UnitFileReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static TomlDocument? Read(string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        string? problem;
        var bytes = ReadFile(path, out problem);
        if (bytes is null)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), unit, null, null, problem!));
            return null;
        }
        return Parse(bytes, path, unit, diagnostics);
    }

    /// <summary>
    /// The file's bytes, or why not. Only a regular file is opened: open(2) on a FIFO waits for a
    /// writer (one FIFO named x.toml would hang every reconcile, plan and check), and opening a
    /// device can act on it. The type is checked before the open and again on the opened file,
    /// which is opened non-blocking, so a file swapped in between cannot block either.
    /// </summary>
    private static byte[]? ReadFile(string path, out string? problem)
    {
        if (!Statx.TryGet(path, follow: true, out var before, out var errno))
            return Fail($"cannot read file: {ErrnoText(errno)}", out problem);
        if (NotRegular(before) is { } notRegular)
            return Fail(notRegular, out problem);
        using var handle = Supervisor.Linux.Files.Open.ReadOnlyNonBlocking(path, out errno);
        if (handle is null)
            return Fail($"cannot read file: {ErrnoText(errno)}", out problem);
        if (!Statx.TryGet(handle, out var opened, out errno))
            return Fail($"cannot read file: {ErrnoText(errno)}", out problem);
        if (NotRegular(opened) is { } swapped)
            return Fail(swapped, out problem);
        try
        {
            // Read at most one byte past the limit, so a huge file costs nothing.
            var bytes = new byte[Limits.MaxFileBytes + 1];
            int total = 0, n;
            while (total < bytes.Length && (n = RandomAccess.Read(handle, bytes.AsSpan(total), total)) > 0)
                total += n;
            if (total > Limits.MaxFileBytes)
                return Fail($"file is larger than {Limits.MaxFileBytes / 1024} KiB, refusing to parse it", out problem);
            problem = null;
            return bytes[..total];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot read file: {Describe(e)}", out problem);
        }
    }

    private static string? NotRegular(FileStatus status) =>
        status.IsRegular ? null
        : status.IsDirectory ? "is a directory, expected a unit file"
        : $"is a {status.TypeName}, not a regular file; refusing to open it";

    private static byte[]? Fail(string message, out string? problem)
    {
        problem = message;
        return null;
    }

    /// <summary>Parses file content already in memory (used by Read and by tests).</summary>
    public static TomlDocument? Parse(ReadOnlySpan<byte> bytes, string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        var text = Decode(bytes, path, unit, diagnostics);
        if (text is null) return null;
        if (TomlPrescan.Check(text) is { } tooBig)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, Position(text, tooBig.Offset, path), unit, null, null, tooBig.Message));
            return null;
        }
        var doc = ParseSyntax(text, path, unit, diagnostics);
        return doc is null ? null : new TomlTreeBuilder(path, unit, diagnostics).Build(doc);
    }

    /// <summary>UTF-8 text without a byte-order mark, NUL characters or nothing but comments, or null with the reason.</summary>
    private static string? Decode(ReadOnlySpan<byte> bytes, string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        if (bytes.StartsWith(Encoding.UTF8.Preamble))
            bytes = bytes[Encoding.UTF8.Preamble.Length..];
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 ? PositionOfByte(bytes, e.Index, path) : SourceLocation.File(path);
            diagnostics.Add(new Diagnostic(Severity.Error, at, unit, null, null, "file is not valid UTF-8"));
            return null;
        }
        if (text.IndexOf('\0') >= 0)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, Position(text, text.IndexOf('\0'), path), unit, null, null,
                "file contains a NUL character; unit files are text"));
            return null;
        }
        if (IsBlank(text))
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), unit, null, null,
                "file is empty; a unit needs at least a [Service] section with ExecStart"));
            return null;
        }
        return text;
    }

    /// <summary>
    /// Tomlyn's syntax tree, without Tomlyn's key validation: that keys its dictionary on a hash
    /// of the key path, and two different keys whose string hashes collide (randomized per
    /// process) are reported as "already defined". <see cref="TomlTreeBuilder"/> checks that every
    /// key is defined once, exactly.
    /// </summary>
    private static DocumentSyntax? ParseSyntax(string text, string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        DocumentSyntax doc;
        try
        {
            doc = SyntaxParser.Parse(text, path, validate: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Tomlyn reports syntax errors as diagnostics; an exception here is a parser defect,
            // and still must not reach the user as a stack trace.
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), unit, null, null, $"not valid TOML: {e.Message}"));
            return null;
        }
        if (!doc.HasErrors) return doc;
        // Only the first syntax error: the ones after it are usually the parser losing its place.
        var first = doc.Diagnostics.First(d => d.Kind == DiagnosticMessageKind.Error);
        diagnostics.Add(new Diagnostic(Severity.Error, Loc(first.Span, path), unit, null, null, $"not valid TOML: {first.Message}"));
        return null;
    }

    internal static SourceLocation Loc(SourceSpan span, string path) => new(path, span.Start.Line + 1, span.Start.Column + 1);

    private static bool IsBlank(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            var t = line.Trim();
            if (t.Length > 0 && t[0] != '#') return false;
        }
        return true;
    }

    private static SourceLocation Position(string text, int offset, string path)
    {
        int line = 1, col = 1;
        for (int i = 0; i < offset && i < text.Length; i++)
        {
            if (text[i] == '\n') { line++; col = 1; }
            else col++;
        }
        return new SourceLocation(path, line, col);
    }

    private static SourceLocation PositionOfByte(ReadOnlySpan<byte> bytes, int index, string path)
    {
        int line = 1, col = 1;
        for (int i = 0; i < index && i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n') { line++; col = 1; }
            else if ((bytes[i] & 0xC0) != 0x80) col++;
        }
        return new SourceLocation(path, line, col);
    }

    internal static string ErrnoText(int errno) => errno switch
    {
        2 => "no such file or directory",
        13 => "permission denied",
        20 => "a part of the path is not a directory",
        40 => "too many levels of symbolic links",
        _ => Marshal.GetPInvokeErrorMessage(errno),
    };

    internal static string Describe(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        _ => e.Message,
    };
}
