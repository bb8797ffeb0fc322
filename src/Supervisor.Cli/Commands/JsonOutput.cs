using System.Buffers;
using System.Text;
using System.Text.Json;
using Supervisor.Cli.Control;
using Supervisor.DBus;

namespace Supervisor.Cli.Commands;

/// <summary>
/// JSON for `--json`, written with Utf8JsonWriter: no reflection, so the binary can be compiled
/// ahead of time. D-Bus values keep their JSON type: numbers stay numbers, booleans booleans.
/// </summary>
internal static class JsonOutput
{
    /// <summary>Writes one indented JSON document and a newline.</summary>
    public static void Print(TextWriter output, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(writer);
        output.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>An array of objects with the same string-valued keys, one per row.</summary>
    public static void PrintRows<T>(TextWriter output, IEnumerable<T> rows, params (string Key, Func<T, string> Value)[] columns) =>
        Print(output, w => WriteRows(w, rows, columns));

    public static void WriteRows<T>(Utf8JsonWriter w, IEnumerable<T> rows, params (string Key, Func<T, string> Value)[] columns)
    {
        w.WriteStartArray();
        foreach (var row in rows)
        {
            w.WriteStartObject();
            foreach (var (key, value) in columns) w.WriteString(key, value(row));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// A value as the D-Bus reader returns it. systemd's "unknown or unlimited" in a uint64
    /// property (UINT64_MAX) is null: a script tests for null, and a 20-digit number would lose
    /// its last digits in any JSON reader that uses doubles (jq, JavaScript).
    /// </summary>
    public static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case ulong u when u == ControlApi.Unset: w.WriteNullValue(); break;
            case ulong u: w.WriteNumberValue(u); break;
            case uint u: w.WriteNumberValue(u); break;
            case long l: w.WriteNumberValue(l); break;
            case int i: w.WriteNumberValue(i); break;
            case ushort u: w.WriteNumberValue(u); break;
            case short s: w.WriteNumberValue(s); break;
            case byte b: w.WriteNumberValue(b); break;
            case double d: w.WriteNumberValue(d); break;
            case Variant v: WriteValue(w, v.Value); break;
            case KeyValuePair<object, object>[] dict: WriteDictionary(w, dict); break;
            case System.Collections.IEnumerable items: WriteArray(w, items.Cast<object?>()); break;
            default: w.WriteStringValue(value.ToString()); break; // ObjectPath, Signature

        }
    }

    private static void WriteArray(Utf8JsonWriter w, IEnumerable<object?> items)
    {
        w.WriteStartArray();
        foreach (var item in items) WriteValue(w, item);
        w.WriteEndArray();
    }

    private static void WriteDictionary(Utf8JsonWriter w, KeyValuePair<object, object>[] dict)
    {
        w.WriteStartObject();
        foreach (var (key, value) in dict)
        {
            w.WritePropertyName(key.ToString() ?? "");
            WriteValue(w, value);
        }
        w.WriteEndObject();
    }
}
