using System.Text;
using System.Text.RegularExpressions;
using Supervisor.Units.Keys;

namespace Supervisor.Fuzz;

/// <summary>
/// AFL dictionaries (tokens AFL splices into inputs): the words a reader branches on, which
/// random bit flips almost never spell. The unit-file one comes from the key table itself, so
/// a new key is fuzzed without anyone editing a list.
/// </summary>
public static partial class Dictionaries
{
    public static string For(string target) => target switch
    {
        FuzzTargets.UnitFile => Render(UnitFileTokens()),
        FuzzTargets.DBusMessage => Render(DBusTokens()),
        FuzzTargets.Sasl => Render(SaslTokens().Concat(DBusTokens())),
        _ => throw new ArgumentException($"unknown fuzz target '{target}'", nameof(target)),
    };

    private static IEnumerable<string> UnitFileTokens()
    {
        foreach (var section in KeyTable.Sections) yield return $"[{section}]";
        foreach (var key in KeyTable.All)
        {
            yield return key.Name + " = ";
            // Quoted alternatives in the type ("simple" | "exec" …) are the enum values.
            foreach (Match m in QuotedWord().Matches(key.Type)) yield return m.Value;
        }
        string[] syntax = ["\"\"\"", "'''", "[[", "]]", "{ ", " }", "\\u", "\\U", "\\n", "\\\"", ".", " = ", "\n", "\r\n", "#", "true", "false",
            "inf", "nan", "+", "-", "0x", "0o", "0b", "1979-05-27T07:32:00Z", "1e10", "_"];
        string[] values = ["\"infinity\"", "\"50%\"", "\"1.5G\"", "\"250ms\"", "\"1min 30s\"", "\"-/", "\"~", "\"@system-service\"", "\"CAP_",
            "\"SIG", "\"E", "{ append = [", "\"0-3,6\"", "\"1024:4096\"", "\"/dev/sda\" = ", UnitFileTarget.SliceMarker, UnitFileTarget.DropInMarker];
        foreach (var s in syntax.Concat(values)) yield return s;
    }

    private static IEnumerable<string> DBusTokens()
    {
        string[] tokens = ["l\x01\x00\x01", "B\x01\x00\x01", "\x01\x01o\x00", "\x02\x01s\x00", "\x03\x01s\x00", "\x04\x01s\x00", "\x05\x01u\x00",
            "\x06\x01s\x00", "\x07\x01s\x00", "\x08\x01g\x00", "\x09\x01u\x00", "a{sv}", "(ss)", "a(ssssssouso)", "v", "h", "ay", "aay",
            "\xff\xff\xff\xff", "\x00\x00\x00\x04", "\x00\x00\x00\x08", "org.freedesktop.DBus", "/org/freedesktop/DBus", "io.supervisor.Fuzz1", "/io/supervisor/Fuzz1"];
        return tokens;
    }

    private static IEnumerable<string> SaslTokens() =>
        ["\0", "AUTH", "AUTH EXTERNAL", "AUTH EXTERNAL 30\r\n", "AUTH ANONYMOUS", "DATA", "BEGIN\r\n", "CANCEL", "ERROR", "NEGOTIATE_UNIX_FD\r\n", "\r\n", " "];

    /// <summary>AFL's format: one <c>name="value"</c> a line, non-printable bytes as \xNN.</summary>
    private static string Render(IEnumerable<string> tokens)
    {
        var sb = new StringBuilder();
        int i = 0;
        foreach (var token in tokens.Distinct(StringComparer.Ordinal))
        {
            sb.Append("t").Append(i++).Append("=\"");
            foreach (byte b in Encoding.UTF8.GetBytes(token))
            {
                if (b is >= 0x20 and < 0x7f && b != '"' && b != '\\') sb.Append((char)b);
                else sb.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            sb.Append("\"\n");
        }
        return sb.ToString();
    }

    [GeneratedRegex("\"[^\"]+\"")]
    private static partial Regex QuotedWord();
}
