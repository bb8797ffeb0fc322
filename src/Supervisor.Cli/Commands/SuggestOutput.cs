using System.Globalization;
using System.Text.Json;
using Supervisor.Sandbox.Suggest;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Commands;

/// <summary>`security --suggest`'s drop-in (TOML, each value with its reason as a comment) and the same as JSON.</summary>
internal static class SuggestOutput
{
    public static string Toml(UnitDefinition unit, SuggestCommand.Learned learned, HardeningSuggestion s, string target)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        w.WriteLine($"# Suggested by `supervisor security --suggest {unit.Name}` from what learn mode recorded.");
        w.WriteLine($"# Save as {target}, then: supervisor restart {unit.Name}");
        w.WriteLine($"# Learned: {learned.Calls.Calls.Count} system calls outside the baseline ({string.Join(", ", s.Baseline)}){Since(learned)},");
        w.WriteLine($"#   from {learned.File}");
        w.WriteLine("# SystemCallFilter: a @group where the service used at least half of its calls (and at least two) and none of");
        w.WriteLine("#   the others is dangerous (@clock @cpu-emulation @debug @module @mount @obsolete @privileged @raw-io @reboot");
        w.WriteLine("#   @swap, keyctl, io_uring_*, userfaultfd, setns, unshare, ptrace …); every other call by name.");
        w.WriteLine("[Sandbox]");
        w.WriteLine("SystemCallFilterMode = \"enforce\"");
        if (s.ErrorNumber is { } errno)
            w.WriteLine($"SystemCallErrorNumber = \"{errno}\"   # a call outside the filter fails with {errno} instead of killing the service");
        w.WriteLine("SystemCallFilter = [");
        foreach (var entry in s.Baseline) w.WriteLine($"    \"{entry}\",");
        foreach (var f in s.Filter)
            w.WriteLine(f.Members > 1 ? $"    \"{f.Entry}\",   # {f.Why}: {string.Join(' ', f.Covers)}"
                : SyscallGrouping.Dangerous.Contains(f.Entry) || f.Covers.Count == 0 ? $"    \"{f.Entry}\",   # {f.Why}" : $"    \"{f.Entry}\",");
        w.WriteLine("]");
        WriteList(w, "RestrictAddressFamilies", s.AddressFamilies, _ => null);
        WriteList(w, "RestrictNamespaces", s.Namespaces, v => v.Count == 0 ? "true" : null);
        w.WriteLine($"CapabilityBoundingSet = [{string.Join(", ", s.BoundingSet.Select(c => $"\"{c}\""))}]");
        w.WriteLine(s.PrivateNetwork.Value
            ? $"# PrivateNetwork = true   # {s.PrivateNetwork.Why}: uncomment when it needs none"
            : $"# PrivateNetwork: not suggested: {s.PrivateNetwork.Why}");
        WriteVerdicts(w, "Capabilities dropped (never used)", s.Dropped);
        WriteVerdicts(w, "Capabilities kept", s.Kept);
        w.WriteLine("#");
        foreach (var note in s.Notes) w.WriteLine($"# Note: {note}");
        return w.ToString();
    }

    private static string Since(SuggestCommand.Learned learned) =>
        learned.Calls.Since is { } since ? $" since {since.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC" : "";

    /// <summary>A list key with its reason; <paramref name="literal"/> may spell the value another way ("true").</summary>
    private static void WriteList(TextWriter w, string key, Suggested<IReadOnlyList<string>> value, Func<IReadOnlyList<string>, string?> literal)
    {
        if (value.Value is not { } list)
        {
            w.WriteLine($"# {key}: not suggested: {value.Why}");
            return;
        }
        var text = literal(list) ?? $"[{string.Join(", ", list.Select(v => $"\"{v}\""))}]";
        w.WriteLine($"{key} = {text}   # {value.Why}");
    }

    private static void WriteVerdicts(TextWriter w, string title, IReadOnlyList<CapabilityVerdict> verdicts)
    {
        if (verdicts.Count == 0) return;
        w.WriteLine($"# {title}:");
        foreach (var v in verdicts) w.WriteLine($"#   {v.Name}: {v.Why}");
    }

    public static void PrintJson(TextWriter output, UnitDefinition unit, SuggestCommand.Learned learned, HardeningSuggestion s, string target) => JsonOutput.Print(output, w =>
    {
        w.WriteStartObject();
        w.WriteString("unit", unit.Name);
        w.WriteString("learnedFile", learned.File);
        if (learned.Calls.Since is { } since) w.WriteString("learnedSince", since.UtcDateTime);
        else w.WriteNull("learnedSince");
        w.WriteNumber("learnedCalls", learned.Calls.Calls.Count);
        w.WriteString("dropIn", target);
        w.WriteString("systemCallFilterMode", "enforce");
        if (s.ErrorNumber is { } errno) w.WriteString("systemCallErrorNumber", errno);
        else w.WriteNull("systemCallErrorNumber");
        w.WriteStartArray("systemCallFilter");
        foreach (var entry in s.Baseline) WriteEntry(w, entry, [], "the baseline learning ran under");
        foreach (var f in s.Filter) WriteEntry(w, f.Entry, f.Covers, f.Why);
        w.WriteEndArray();
        WriteSuggested(w, "restrictAddressFamilies", s.AddressFamilies);
        WriteSuggested(w, "restrictNamespaces", s.Namespaces);
        w.WriteStartObject("privateNetwork");
        w.WriteBoolean("suggested", s.PrivateNetwork.Value);
        w.WriteString("why", s.PrivateNetwork.Why);
        w.WriteEndObject();
        w.WriteStartArray("capabilityBoundingSet");
        foreach (var c in s.BoundingSet) w.WriteStringValue(c);
        w.WriteEndArray();
        WriteVerdicts(w, "capabilitiesDropped", s.Dropped);
        WriteVerdicts(w, "capabilitiesKept", s.Kept);
        w.WriteStartArray("notes");
        foreach (var n in s.Notes) w.WriteStringValue(n);
        w.WriteEndArray();
        w.WriteString("toml", Toml(unit, learned, s, target));
        w.WriteEndObject();
    });

    private static void WriteEntry(Utf8JsonWriter w, string entry, IReadOnlyList<string> covers, string why)
    {
        w.WriteStartObject();
        w.WriteString("entry", entry);
        w.WriteStartArray("covers");
        foreach (var c in covers) w.WriteStringValue(c);
        w.WriteEndArray();
        w.WriteString("why", why);
        w.WriteEndObject();
    }

    private static void WriteSuggested(Utf8JsonWriter w, string name, Suggested<IReadOnlyList<string>> value)
    {
        w.WriteStartObject(name);
        if (value.Value is { } list)
        {
            w.WriteStartArray("value");
            foreach (var v in list) w.WriteStringValue(v);
            w.WriteEndArray();
        }
        else w.WriteNull("value");
        w.WriteString("why", value.Why);
        w.WriteEndObject();
    }

    private static void WriteVerdicts(Utf8JsonWriter w, string name, IReadOnlyList<CapabilityVerdict> verdicts)
    {
        w.WriteStartArray(name);
        foreach (var v in verdicts)
        {
            w.WriteStartObject();
            w.WriteString("capability", v.Name);
            w.WriteString("why", v.Why);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
