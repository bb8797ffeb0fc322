using System.Text;
using Supervisor.Units;

namespace Supervisor.Import.Ini;

/// <summary>
/// systemd's unit file syntax (systemd.syntax(7), conf-parser.c): <c>[Section]</c> headers,
/// <c>Key=Value</c> assignments, comments starting with '#' or ';' (also between the lines of a
/// continued assignment), and a line that ends in an unescaped backslash continued on the next one,
/// the backslash becoming a space. What systemd ignores with a warning (a line without '=', an
/// assignment before any section) is kept as an ignored line with systemd's reason; what makes
/// systemd refuse the whole file (a bad section header, bytes that are not UTF-8) throws
/// <see cref="SystemdFileException"/>. Values are kept exactly as written: quoting, escapes and
/// specifiers mean different things to different directives, and the translator applies each rule.
/// </summary>
public static class SystemdIniReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads the bytes of a unit file or drop-in.</summary>
    public static IniFile Parse(ReadOnlySpan<byte> bytes, string path)
    {
        var lines = new List<string>();
        int lineNo = 0;
        while (!bytes.IsEmpty)
        {
            lineNo++;
            int nl = bytes.IndexOf((byte)'\n');
            var raw = nl < 0 ? bytes : bytes[..nl];
            bytes = nl < 0 ? [] : bytes[(nl + 1)..];
            if (raw.IndexOf((byte)0) >= 0)
                throw new SystemdFileException(new SourceLocation(path, lineNo, raw.IndexOf((byte)0) + 1), "the file contains a NUL byte; unit files are text");
            if (lineNo == 1 && raw.StartsWith(Encoding.UTF8.Preamble)) raw = raw[Encoding.UTF8.Preamble.Length..];
            if (!raw.IsEmpty && raw[^1] == (byte)'\r') raw = raw[..^1];
            if (IsComment(raw))
            {
                lines.Add("#");
                continue;
            }
            try
            {
                lines.Add(StrictUtf8.GetString(raw));
            }
            catch (DecoderFallbackException)
            {
                throw new SystemdFileException(new SourceLocation(path, lineNo, 1), "the line is not valid UTF-8, and systemd refuses such a file");
            }
        }
        return Parse(lines, path);
    }

    /// <summary>Reads text already decoded (tests, and the byte reader above).</summary>
    public static IniFile Parse(string text, string path) => Parse(text.Split('\n').Select(l => l.TrimEnd('\r')).ToList(), path);

    private static IniFile Parse(IReadOnlyList<string> lines, string path)
    {
        var state = new State(path);
        // The continued assignment so far; every piece ends in the space that replaced its
        // backslash, so whether the next line continues depends on that line alone.
        StringBuilder? continuation = null;
        int start = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            // A comment ends nothing: systemd skips it even between the lines of a continued assignment.
            if (line.TrimStart(' ', '\t').StartsWith('#') || line.TrimStart(' ', '\t').StartsWith(';')) continue;
            if (continuation is null) start = i + 1;
            if (EndsEscaped(line))
            {
                (continuation ??= new StringBuilder()).Append(line, 0, line.Length - 1).Append(' ');
                continue;
            }
            var logical = continuation is null ? line : continuation.Append(line).ToString();
            continuation = null;
            state.Line(logical, start, Column(lines[start - 1]));
        }
        if (continuation is not null) state.Line(continuation.ToString(), start, Column(lines[start - 1]));
        return new IniFile(path, state.Assignments, state.Ignored);
    }

    private static bool IsComment(ReadOnlySpan<byte> raw)
    {
        var t = raw.TrimStart(" \t"u8);
        return !t.IsEmpty && (t[0] == (byte)'#' || t[0] == (byte)';');
    }

    /// <summary>An odd number of backslashes at the end: "a\\" continues, "a\\\\" does not (conf-parser.c counts them over the whole line).</summary>
    private static bool EndsEscaped(string s)
    {
        bool escaped = false;
        foreach (var c in s) escaped = !escaped && c == '\\';
        return escaped;
    }

    private static int Column(string physical) => physical.Length - physical.TrimStart(' ', '\t').Length + 1;

    private sealed class State(string path)
    {
        private string? _section;

        public List<IniAssignment> Assignments { get; } = [];
        public List<IniIgnoredLine> Ignored { get; } = [];

        public void Line(string logical, int line, int column)
        {
            var l = logical.Trim(' ', '\t', '\n', '\r');
            if (l.Length == 0) return;
            var at = new SourceLocation(path, line, column);
            if (l[0] == '[')
            {
                if (l[^1] != ']') throw new SystemdFileException(at, $"invalid section header '{l}'; systemd refuses the file");
                var name = l[1..^1];
                if (name.Any(c => c < ' ' || c == '\x7f' || c is '\\' or '"' or '\''))
                    throw new SystemdFileException(at, $"bad characters in section header '{l}'; systemd refuses the file");
                _section = name;
                return;
            }
            if (_section is null)
            {
                Ignored.Add(new IniIgnoredLine(at, "assignment outside of any section; systemd ignores it"));
                return;
            }
            int eq = l.IndexOf('=');
            if (eq < 0)
            {
                Ignored.Add(new IniIgnoredLine(at, "missing '='; systemd ignores the line"));
                return;
            }
            if (eq == 0)
            {
                Ignored.Add(new IniIgnoredLine(at, "missing key name before '='; systemd ignores the line"));
                return;
            }
            Assignments.Add(new IniAssignment(_section, l[..eq].Trim(' ', '\t', '\n', '\r'), l[(eq + 1)..].Trim(' ', '\t', '\n', '\r'), at));
        }
    }
}
