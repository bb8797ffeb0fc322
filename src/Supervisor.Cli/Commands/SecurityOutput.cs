using System.Globalization;
using System.Text.Json;
using Supervisor.Sandbox.Security;

namespace Supervisor.Cli.Commands;

/// <summary>`security`'s text (one line per check, as systemd-analyze prints them) and its JSON.</summary>
internal static class SecurityOutput
{
    public static void PrintText(TextWriter output, IReadOnlyList<SecurityCommand.Scored> scored)
    {
        foreach (var (report, source) in scored)
        {
            output.WriteLine($"{report.Unit}: {source}");
            output.WriteLine($"       {"CHECK",-52} {"WEIGHT",6} {"EXPOSURE",8}  DESCRIPTION");
            foreach (var line in report.Lines.Where(l => !l.Check.SupervisorOnly)) WriteLine(output, line);
            output.WriteLine("  Supervisor only (weight 0: shown, not in the score):");
            foreach (var line in report.Lines.Where(l => l.Check.SupervisorOnly)) WriteLine(output, line);
            output.WriteLine($"→ Overall exposure level for {report.Unit}: {report.Score} {report.Rating}");
            output.WriteLine();
        }
    }

    private static void WriteLine(TextWriter output, ExposureLine line)
    {
        var mark = line.Passes switch { true => "pass", false => "FAIL", null => "n/a " };
        var weight = line.Check.SupervisorOnly ? "-" : line.Check.Weight.ToString(CultureInfo.InvariantCulture);
        output.WriteLine($"  {mark} {line.Check.Name,-52} {weight,6} {Tenths(line.Exposure) ?? "",8}  {line.Assessment.Description}");
    }

    private static string? Tenths(int? tenths) => tenths is { } t ? $"{t / 10}.{t % 10}" : null;

    public static void PrintJson(TextWriter output, IReadOnlyList<SecurityCommand.Scored> scored, double? threshold) => JsonOutput.Print(output, w =>
    {
        w.WriteStartObject();
        if (threshold is { } t) w.WriteNumber("threshold", t);
        else w.WriteNull("threshold");
        w.WriteStartArray("units");
        foreach (var (report, source) in scored) WriteUnit(w, report, source, threshold);
        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static void WriteUnit(Utf8JsonWriter w, ExposureReport report, string source, double? threshold)
    {
        w.WriteStartObject();
        w.WriteString("unit", report.Unit);
        w.WriteString("source", source);
        w.WriteNumber("exposure", report.ScoreTenths / 10m);
        w.WriteString("rating", report.Rating);
        w.WriteBoolean("aboveThreshold", SecurityCommand.Above(report, threshold));
        w.WriteStartArray("checks");
        foreach (var line in report.Lines)
        {
            w.WriteStartObject();
            w.WriteString("name", line.Check.Name);
            w.WriteBoolean("supervisorOnly", line.Check.SupervisorOnly);
            w.WriteNumber("weight", line.Check.Weight);
            w.WriteNumber("range", line.Check.Range);
            if (line.Assessment.Badness is { } b) w.WriteNumber("badness", b);
            else w.WriteNull("badness");
            if (line.Passes is { } p) w.WriteBoolean("passes", p);
            else w.WriteNull("passes");
            if (line.Exposure is { } e) w.WriteNumber("exposure", e / 10m);
            else w.WriteNull("exposure");
            w.WriteString("description", line.Assessment.Description);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
