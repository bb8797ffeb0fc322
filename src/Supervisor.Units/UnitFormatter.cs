using System.Globalization;
using System.Text;
using System.Text.Json;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Units;

/// <summary>
/// Writes the effective unit (after drop-ins, with defaults) back out, as TOML that parses to the
/// same unit, or as JSON for scripts. Driven by the key table, so every key is covered.
/// </summary>
public static class UnitFormatter
{
    public static string ToToml(UnitDefinition unit)
    {
        var sb = new StringBuilder();
        sb.Append("# ").Append(unit.Name).Append(": effective settings from ").Append(string.Join(", ", unit.Sources)).Append('\n');
        foreach (var section in KeyTable.SectionsFor(unit.Kind))
        {
            var lines = new StringBuilder();
            foreach (var key in KeyTable.InSection(section))
            {
                var value = key.Get(unit);
                if (value is null) continue;
                lines.Append(key.Name).Append(" = ");
                WriteToml(lines, value);
                lines.Append('\n');
            }
            if (lines.Length == 0) continue;
            sb.Append('\n').Append('[').Append(section).Append("]\n").Append(lines);
        }
        return sb.ToString();
    }

    public static string ToJson(UnitDefinition unit)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            WriteJson(w, unit);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static void WriteJson(Utf8JsonWriter w, UnitDefinition unit)
    {
        w.WriteStartObject();
        w.WriteString("name", unit.Name);
        w.WriteString("kind", unit.Kind switch { UnitKind.Slice => "slice", UnitKind.Socket => "socket", _ => "service" });
        w.WriteStartArray("sources");
        foreach (var s in unit.Sources) w.WriteStringValue(s);
        w.WriteEndArray();
        foreach (var section in KeyTable.SectionsFor(unit.Kind))
        {
            w.WriteStartObject(section);
            foreach (var key in KeyTable.InSection(section))
            {
                var value = key.Get(unit);
                if (value is null) continue;
                w.WritePropertyName(key.Name);
                WriteJsonValue(w, value);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    public static void WriteJsonValue(Utf8JsonWriter w, object value)
    {
        switch (value)
        {
            case string s: w.WriteStringValue(s); break;
            case long l: w.WriteNumberValue(l); break;
            case bool b: w.WriteBooleanValue(b); break;
            case List<KeyValuePair<string, object>> table:
                w.WriteStartObject();
                foreach (var (k, v) in table)
                {
                    w.WritePropertyName(k);
                    WriteJsonValue(w, v);
                }
                w.WriteEndObject();
                break;
            case List<object> list:
                w.WriteStartArray();
                foreach (var item in list) WriteJsonValue(w, item);
                w.WriteEndArray();
                break;
            default: throw new ArgumentException($"not a plain value: {value.GetType()}", nameof(value));
        }
    }

    public static void WriteToml(StringBuilder sb, object value)
    {
        switch (value)
        {
            case string s: WriteTomlString(sb, s); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case List<KeyValuePair<string, object>> table:
                sb.Append('{');
                for (int i = 0; i < table.Count; i++)
                {
                    sb.Append(i == 0 ? " " : ", ");
                    WriteTomlKey(sb, table[i].Key);
                    sb.Append(" = ");
                    WriteToml(sb, table[i].Value);
                }
                sb.Append(table.Count > 0 ? " }" : "}");
                break;
            case List<object> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    WriteToml(sb, list[i]);
                }
                sb.Append(']');
                break;
            default: throw new ArgumentException($"not a plain value: {value.GetType()}", nameof(value));
        }
    }

    private static void WriteTomlKey(StringBuilder sb, string key)
    {
        if (key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')) sb.Append(key);
        else WriteTomlString(sb, key);
    }

    private static void WriteTomlString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Diagnostics as JSON, for <c>check --json</c>.</summary>
    public static void WriteJson(Utf8JsonWriter w, Diagnostic d)
    {
        w.WriteStartObject();
        w.WriteString("severity", d.Severity == Severity.Error ? "error" : "warning");
        w.WriteString("file", d.Location.Path);
        w.WriteNumber("line", d.Location.Line);
        w.WriteNumber("column", d.Location.Column);
        w.WriteString("unit", d.Unit);
        if (d.Section is null) w.WriteNull("section"); else w.WriteString("section", d.Section);
        if (d.Key is null) w.WriteNull("key"); else w.WriteString("key", d.Key);
        w.WriteString("message", d.Message);
        if (d.Hint is null) w.WriteNull("hint"); else w.WriteString("hint", d.Hint);
        w.WriteString("text", d.ToString());
        w.WriteEndObject();
    }
}
