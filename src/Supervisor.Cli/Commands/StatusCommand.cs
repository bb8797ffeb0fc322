using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Supervisor.Cli.Control;
using Supervisor.Supervision.Logs;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor status [UNIT]`: one unit's state, resources, isolation and the end of its log
/// (from the log directory the daemon names), or the table of all units.
/// </summary>
internal static class StatusCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string?>("UNIT") { Description = "a unit name; without it, every unit", Arity = ArgumentArity.ZeroOrOne };
        var runtime = ClientOptions.RuntimeDirOption();
        var state = new Option<string?>("--state-dir") { Description = "where the unit logs are (default: the daemon's, else /var/lib/supervisor)" };
        var lines = new Option<int>("-n", "--lines") { Description = "log lines to show", DefaultValueFactory = _ => 10 };
        var json = ControlCommands.Json();
        var timeout = ClientOptions.TimeoutOption();
        var command = new Command("status", "Show a unit's state, resources, isolation and recent log (exit 3 if it is not active).") { unit, runtime, state, lines, json, timeout };
        command.SetAction(r => DaemonClient.Run(ClientOptions.From(r, runtime, timeout), error, c =>
            r.GetValue(unit) is { } name
                ? One(c, name, r.GetValue(json), r.GetValue(state), r.GetValue(lines), output)
                : All(c, r.GetValue(json), output)));
        return command;
    }

    private static int All(DaemonClient c, bool json, TextWriter output)
    {
        var layoutCall = c.PostManagerProperty("CgroupLayout");
        var rows = ControlCommands.List(c);
        var layout = (string)((DBus.Variant)c.Reply(layoutCall, "Get")[0]).Value;
        if (json)
        {
            JsonOutput.Print(output, w =>
            {
                w.WriteStartObject();
                w.WriteString("cgroups", layout);
                w.WritePropertyName("units");
                JsonOutput.WriteRows(w, rows, ControlCommands.ListColumns);
                w.WriteEndObject();
            });
            return ExitCodes.Ok;
        }
        ControlCommands.PrintTable(output, rows);
        output.WriteLine($"cgroups: {layout}");
        return ExitCodes.Ok;
    }

    private static int One(DaemonClient c, string name, bool json, string? stateDirectory, int lines, TextWriter output)
    {
        // Where the logs are goes out with GetUnit, in the same write.
        uint? logCall = !json && stateDirectory is null ? c.PostManagerProperty("LogDirectory") : null;
        var p = c.UnitProperties(name);
        if (json)
        {
            // systemd's property names and D-Bus's types: MainPID and NRestarts are numbers, SeccompEnabled a boolean.
            JsonOutput.Print(output, w => WriteProperties(w, p));
        }
        else
        {
            var logs = stateDirectory is not null ? Path.Combine(stateDirectory, "logs")
                : c.OptionalManagerProperty(logCall!.Value) ?? DaemonPaths.Defaults.LogDirectory;
            var unreadable = lines > 0 ? LogsCommand.Unreadable(logs) : null;
            PrintStatus(output, p, lines > 0 && unreadable is null ? UnitLog.Tail(logs, name, lines) : []);
            if (unreadable is not null) output.WriteLine($"(no log lines: {unreadable["supervisor: ".Length..]})");
        }
        return (string)p["ActiveState"] == "active" ? ExitCodes.Ok : ControlCommands.NotActive;
    }

    internal static void WriteProperties(Utf8JsonWriter w, IReadOnlyDictionary<string, object> properties)
    {
        w.WriteStartObject();
        foreach (var (key, value) in properties)
        {
            w.WritePropertyName(key);
            JsonOutput.WriteValue(w, value);
        }
        w.WriteEndObject();
    }

    private static void PrintStatus(TextWriter o, Dictionary<string, object> p, IReadOnlyList<string> log)
    {
        bool colour = ControlCommands.Colour(o);
        string S(string k) => p.TryGetValue(k, out var v) ? Convert.ToString(v, CultureInfo.InvariantCulture) ?? "" : "";
        ulong T(string k) => p.TryGetValue(k, out var v) && v is ulong u ? u : ControlApi.Unset;

        o.WriteLine($"{ControlCommands.Dot(S("ActiveState"), colour)} {S("Id")} - {S("Description")}");
        o.WriteLine($"      Loaded: {S("LoadState")} ({S("FragmentPath")})");
        var result = S("Result");
        var since = S("ActiveState") is "active" or "reloading" && T("ActiveEnterTimestamp") is var ts && ts is not 0 and not ControlApi.Unset
            ? " since " + DateTimeOffset.FromUnixTimeMilliseconds((long)(ts / 1000)).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";
        o.WriteLine($"      Active: {S("ActiveState")} ({S("SubState")}){since}{(result == "success" ? "" : $"; result: {result}")}");
        var checkedAt = T("ConditionTimestamp") is var ct && ct is not 0 and not ControlApi.Unset
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(ct / 1000)).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "?";
        // systemctl status: "Condition: start condition failed at TIME; ConditionPathExists=/x was not met".
        if (p.TryGetValue("ConditionResult", out var cr) && cr is false)
            o.WriteLine($"   Condition: start condition failed at {checkedAt}; {S("ConditionNotMet")}");
        if (p.TryGetValue("AssertResult", out var ar) && ar is false)
            o.WriteLine($"      Assert: start assertion failed at {checkedAt}; {S("AssertNotMet")}");
        if (S("MainPID") is { } pid && pid != "0") o.WriteLine($"    Main PID: {pid}");
        o.WriteLine($"    Restarts: {S("NRestarts")}");
        // An Accept=yes socket unit: "Connections: NAccepted=12 NConnections=2 NRefused=0".
        if (p.TryGetValue("Accept", out var accept) && accept is true)
            o.WriteLine($" Connections: NAccepted={S("NAccepted")} NConnections={S("NConnections")} NRefused={S("NRefused")}");
        // [Health]: "   Liveness: ok (1/1)", "  Readiness: failed (3/3): http://127.0.0.1:8080/ready: HTTP 503".
        foreach (var (key, label) in new[] { ("StartupProbe", "    Startup"), ("LivenessProbe", "   Liveness"), ("ReadinessProbe", "  Readiness") })
            if (S(key).Length > 0) o.WriteLine($"{label}: {S(key)}");
        if (p.TryGetValue("DynamicUser", out var dynamic) && dynamic is true && p.TryGetValue("UID", out var uid) && uid is uint u && u != uint.MaxValue)
            o.WriteLine($"        User: {u}:{S("GID")} (dynamic)");
        PrintResources(o, T);
        if (p.TryGetValue("Namespaces", out var ns) && ns is object[] { Length: > 0 } nsa)
            o.WriteLine($"  Namespaces: {string.Join(' ', nsa)}");
        o.WriteLine($"     Seccomp: {(p.TryGetValue("SeccompEnabled", out var sc) && sc is true ? "yes" : "no")}");
        // "     Denied: keyctl 3, io_uring_setup 1; last: keyctl (EPERM) to pid 41 (python3) at …"
        if (p.TryGetValue("SeccompDenials", out var denied) && denied is object[] { Length: > 0 } rows)
            o.WriteLine($"      Denied: {string.Join(", ", rows.Select(DenialText))}; last: {S("SeccompLastDenial")}");
        if (S("AppArmorProfile").Length > 0) o.WriteLine($"    AppArmor: {S("AppArmorProfile")}");
        if (S("SELinuxContext").Length > 0) o.WriteLine($"     SELinux: {S("SELinuxContext")}");
        if (p.TryGetValue("Diagnostics", out var diags) && diags is object[] { Length: > 0 } da)
            foreach (var d in da) o.WriteLine($"     Problem: {d}");
        if (log.Count > 0)
        {
            o.WriteLine();
            foreach (var l in log) o.WriteLine(l);
        }
    }

    private static string DenialText(object row) => row is IReadOnlyList<object> { Count: 2 } r ? $"{r[0]} {r[1]}" : Convert.ToString(row, CultureInfo.InvariantCulture) ?? "";

    private static void PrintResources(TextWriter o, Func<string, ulong> t)
    {
        static string Bytes(ulong b) => b == ControlApi.Unset ? "-" : b >= 1 << 30 ? $"{b / (double)(1 << 30):0.0}G" : b >= 1 << 20 ? $"{b / (double)(1 << 20):0.0}M" : b >= 1 << 10 ? $"{b / 1024.0:0.0}K" : $"{b}B";
        if (t("MemoryCurrent") != ControlApi.Unset || t("MemoryMax") != ControlApi.Unset)
            o.WriteLine($"      Memory: {Bytes(t("MemoryCurrent"))}{(t("MemoryMax") == ControlApi.Unset ? "" : $" (max {Bytes(t("MemoryMax"))})")}");
        if (t("TasksCurrent") != ControlApi.Unset)
            o.WriteLine($"       Tasks: {t("TasksCurrent")}{(t("TasksMax") == ControlApi.Unset ? "" : $" (max {t("TasksMax")})")}");
        if (t("CPUUsageNSec") != ControlApi.Unset)
            o.WriteLine($"         CPU: {t("CPUUsageNSec") / 1e9:0.000}s{(t("CPUQuotaPerSecUSec") == ControlApi.Unset ? "" : $" (quota {t("CPUQuotaPerSecUSec") / 10000.0:0.##}%)")}");
    }
}
