using System.Text;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Supervisor.Units.Syntax;

/// <summary>
/// Reads one unit file or drop-in from disk into a <see cref="TomlDocument"/>. This is the only
/// code that knows about Tomlyn. Every way a file can be bad (unreadable, a directory, too large,
/// not UTF-8, empty, nested absurdly deep, not TOML) becomes a <see cref="Diagnostic"/>; nothing
/// here throws for bad input.
/// </summary>
public static class UnitFileReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static TomlDocument? Read(string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        var file = SourceLocation.File(path);
        byte[] bytes;
        try
        {
            if (Directory.Exists(path))
            {
                diagnostics.Add(new Diagnostic(Severity.Error, file, unit, null, null, "is a directory, expected a unit file"));
                return null;
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            // Read at most one byte past the limit, so a huge (or endless, like /dev/zero) file costs nothing.
            bytes = new byte[Limits.MaxFileBytes + 1];
            int total = 0, n;
            while (total < bytes.Length && (n = stream.Read(bytes, total, bytes.Length - total)) > 0)
                total += n;
            if (total > Limits.MaxFileBytes)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, file, unit, null, null,
                    $"file is larger than {Limits.MaxFileBytes / 1024} KiB, refusing to parse it"));
                return null;
            }
            Array.Resize(ref bytes, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, file, unit, null, null, $"cannot read file: {Describe(e)}"));
            return null;
        }
        return Parse(bytes, path, unit, diagnostics);
    }

    /// <summary>Parses file content already in memory (used by Read and by tests).</summary>
    public static TomlDocument? Parse(ReadOnlySpan<byte> bytes, string path, string unit, ICollection<Diagnostic> diagnostics)
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
        if (TooDeep(text, out var deepAt))
        {
            diagnostics.Add(new Diagnostic(Severity.Error, Position(text, deepAt, path), unit, null, null,
                $"arrays or inline tables nested deeper than {Limits.MaxNestingDepth} levels"));
            return null;
        }

        DocumentSyntax doc;
        try
        {
            doc = SyntaxParser.Parse(text, path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Tomlyn reports syntax errors as diagnostics; an exception here is a parser defect,
            // and still must not reach the user as a stack trace.
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), unit, null, null, $"not valid TOML: {e.Message}"));
            return null;
        }
        if (doc.HasErrors)
        {
            // Only the first syntax error: the ones after it are usually the parser losing its place.
            foreach (var d in doc.Diagnostics)
            {
                if (d.Kind != DiagnosticMessageKind.Error) continue;
                diagnostics.Add(new Diagnostic(Severity.Error, Loc(d.Span, path), unit, null, null, $"not valid TOML: {d.Message}"));
                break;
            }
            return null;
        }

        var sections = new List<TomlSection>();
        var errorsBefore = diagnostics.Count;
        if (doc.KeyValues.ChildrenCount > 0)
        {
            var first = doc.KeyValues.GetChild(0)!;
            sections.Add(new TomlSection("", Loc(first.Span, path), ConvertEntries(doc.KeyValues, path, unit, diagnostics)));
        }
        foreach (var table in doc.Tables)
        {
            var at = Loc(table.Span, path);
            if (table is TableArraySyntax)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, at, unit, null, null,
                    $"[[{table.Name}]] is an array of tables; unit files use plain [Section] headers"));
                continue;
            }
            var names = KeyPath(table.Name!);
            var entries = ConvertEntries(table.Items, path, unit, diagnostics);
            if (names.Count == 1)
            {
                sections.Add(new TomlSection(names[0], at, entries));
            }
            else
            {
                // [Service.Environment] is the table Environment inside [Service].
                TomlValue value = new TomlTable(at, entries);
                for (int i = names.Count - 1; i >= 2; i--)
                    value = new TomlTable(at, [new TomlEntry(names[i], at, value)]);
                sections.Add(new TomlSection(names[0], at, [new TomlEntry(names[1], at, value)]));
            }
        }
        return diagnostics.Count > errorsBefore ? null : new TomlDocument(path, sections);
    }

    private static List<TomlEntry> ConvertEntries(SyntaxList<KeyValueSyntax> items, string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        var entries = new List<TomlEntry>();
        foreach (var kv in items)
        {
            var names = KeyPath(kv.Key!);
            var keyAt = Loc(kv.Key!.Span, path);
            var value = Convert(kv.Value!, path, unit, diagnostics);
            for (int i = names.Count - 1; i >= 1; i--)
                value = new TomlTable(keyAt, [new TomlEntry(names[i], keyAt, value)]);
            entries.Add(new TomlEntry(names[0], keyAt, value));
        }
        return MergeDottedKeys(entries);
    }

    /// <summary>
    /// <c>Environment.A = "1"</c> and <c>Environment.B = "2"</c> become one table with two entries.
    /// Linear in the entries: the first entry of each key is found by a dictionary, and a table's
    /// parts are collected and merged once at the end. (A search per key and a re-merge of the
    /// growing table at each dotted key made 4 000 lines of <c>Environment.K = "1"</c> take
    /// minutes and most of a gigabyte; found by tests/fuzz.)
    /// </summary>
    private static List<TomlEntry> MergeDottedKeys(List<TomlEntry> entries)
    {
        var result = new List<TomlEntry>(entries.Count);
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var parts = new Dictionary<int, List<TomlEntry>>();
        foreach (var e in entries)
        {
            if (first.TryGetValue(e.Key, out var i) && result[i].Value is TomlTable a && e.Value is TomlTable b)
            {
                if (!parts.TryGetValue(i, out var list)) parts[i] = list = [.. a.Entries];
                list.AddRange(b.Entries);
                continue;
            }
            first.TryAdd(e.Key, result.Count);
            result.Add(e);
        }
        foreach (var (i, list) in parts)
            result[i] = result[i] with { Value = new TomlTable(result[i].Value.Location, MergeDottedKeys(list)) };
        return result;
    }

    private static TomlValue Convert(ValueSyntax value, string path, string unit, ICollection<Diagnostic> diagnostics)
    {
        var at = Loc(value.Span, path);
        switch (value)
        {
            case StringValueSyntax s: return new TomlString(at, s.Value ?? "");
            case IntegerValueSyntax i: return new TomlInteger(at, i.Value);
            case FloatValueSyntax f: return new TomlFloat(at, f.Value);
            case BooleanValueSyntax b: return new TomlBoolean(at, b.Value);
            case DateTimeValueSyntax d: return new TomlDateTime(at, d.ToString().Trim());
            case ArraySyntax a:
                var items = new List<TomlValue>();
                foreach (var item in a.Items)
                    items.Add(Convert(item.Value!, path, unit, diagnostics));
                return new TomlArray(at, items);
            case InlineTableSyntax t:
                var entries = new List<TomlEntry>();
                foreach (var item in t.Items)
                {
                    var kv = item.KeyValue!;
                    var names = KeyPath(kv.Key!);
                    var keyAt = Loc(kv.Key!.Span, path);
                    var v = Convert(kv.Value!, path, unit, diagnostics);
                    for (int i = names.Count - 1; i >= 1; i--)
                        v = new TomlTable(keyAt, [new TomlEntry(names[i], keyAt, v)]);
                    entries.Add(new TomlEntry(names[0], keyAt, v));
                }
                return new TomlTable(at, MergeDottedKeys(entries));
            default:
                diagnostics.Add(new Diagnostic(Severity.Error, at, unit, null, null, $"unsupported TOML value '{value.ToString().Trim()}'"));
                return new TomlString(at, "");
        }
    }

    private static List<string> KeyPath(KeySyntax key)
    {
        var names = new List<string> { KeyText(key.Key!) };
        foreach (var dot in key.DotKeys)
            names.Add(KeyText(dot.Key!));
        return names;
    }

    private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
    {
        BareKeySyntax b => b.Key!.Text ?? "",
        StringValueSyntax s => s.Value ?? "",
        _ => key.ToString().Trim(),
    };

    private static SourceLocation Loc(SourceSpan span, string path) => new(path, span.Start.Line + 1, span.Start.Column + 1);

    private static bool IsBlank(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            var t = line.Trim();
            if (t.Length > 0 && t[0] != '#') return false;
        }
        return true;
    }

    /// <summary>
    /// Tomlyn's parser is recursive: a value like <c>[[[[...]]]]</c> nested a million deep would
    /// overflow the stack and kill the process, which no catch can stop. So nesting is measured
    /// first, skipping strings and comments, and refused past <see cref="Limits.MaxNestingDepth"/>.
    /// Header brackets count too; they add at most 2.
    /// </summary>
    internal static bool TooDeep(string text, out int offset)
    {
        int depth = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '#':
                    while (i < text.Length && text[i] != '\n') i++;
                    break;
                case '"' or '\'':
                    bool multi = i + 2 < text.Length && text[i + 1] == c && text[i + 2] == c;
                    if (multi)
                    {
                        var end = text.IndexOf(new string(c, 3), i + 3, StringComparison.Ordinal);
                        i = end < 0 ? text.Length : end + 2;
                    }
                    else
                    {
                        i++;
                        while (i < text.Length && text[i] != c && text[i] != '\n')
                        {
                            if (c == '"' && text[i] == '\\') i++;
                            i++;
                        }
                    }
                    break;
                case '[' or '{':
                    if (++depth > Limits.MaxNestingDepth + 2)
                    {
                        offset = i;
                        return true;
                    }
                    break;
                case ']' or '}':
                    if (depth > 0) depth--;
                    break;
            }
        }
        offset = -1;
        return false;
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

    internal static string Describe(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        _ => e.Message,
    };
}
