using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Supervisor.Cli.Control;
using Supervisor.DBus;
using Supervisor.Supervision.Logs;

namespace Supervisor.Cli.Commands;

/// <summary>
/// The client side of the control API: status, list-units, start, stop, restart, reload,
/// reset-failed, plan and logs. They talk to `supervisor run` over its private D-Bus socket
/// (logs reads the log files directly, so it works without the daemon).
/// </summary>
public static class ControlCommands
{
    public const string DefaultRuntimeDirectory = "/run/supervisor";
    public const string DefaultStateDirectory = "/var/lib/supervisor";

    /// <summary>`status UNIT` exits 3 when the unit is not active, as systemctl does.</summary>
    public const int NotActive = 3;

    /// <summary>
    /// Where to reach the daemon: its private socket in --runtime-dir (the default), or with
    /// --bus the system bus ("system") or any bus address, through the name io.supervisor.Supervisor1.
    /// </summary>
    private static Option<string> RuntimeDir() => new("--runtime-dir") { Description = "where the daemon's control socket is", DefaultValueFactory = _ => DefaultRuntimeDirectory };

    internal static Option<string?> NewBusOption() => new("--bus") { Description = "talk to the daemon over a bus instead of its private socket: 'system' or a D-Bus address", Recursive = true };
    private static Option<bool> Json() => new("--json") { Description = "print JSON" };

    public static IEnumerable<Command> Build(TextWriter output, TextWriter error)
    {
        yield return Status(output, error);
        yield return ListUnits(output, error);
        foreach (var (name, method, description) in new[]
        {
            ("start", "StartUnit", "Start a unit (and what it requires) and wait until it is up."),
            ("stop", "StopUnit", "Stop a unit (and what depends on it) and wait until it is down."),
            ("restart", "RestartUnit", "Restart a unit and wait until it is up again."),
            ("reload", "ReloadUnit", "Run a unit's ExecReload and wait for it."),
        })
        {
            yield return Job(name, method, description + " Needs root or the admin group.", error);
        }
        yield return ResetFailed(output, error);
        yield return Plan(output, error, "plan", "Plan", "Preview what the next reconcile would do to each unit (start, stop, restart and why, apply live old → new), without doing it.");
        yield return Plan(output, error, "daemon-reload", "Reload", "Read the unit files again and reconcile now; prints what was done (needs root or the admin group).");
        yield return Logs(output, error);
    }

    private static string? _bus;

    /// <summary>Set once per command line from the root's recursive --bus option.</summary>
    internal static void UseBus(string? bus) => _bus = bus;

    private static async Task<int> WithDaemon(string runtimeDir, TextWriter error, Func<DBusConnection, Task<int>> action)
    {
        var socket = Path.Combine(runtimeDir, "private");
        string address = _bus is null ? DBusAddress.ForUnixPath(socket)
            : _bus == "system" ? Control.ControlEndpoints.SystemBusAddress("auto") ?? "unix:path=/run/dbus/system_bus_socket"
            : _bus;
        if (_bus is not null) socket = address;
        else if (!File.Exists(socket))
        {
            error.WriteLine($"supervisor: no control socket at '{socket}': the daemon is not running (start it with 'supervisor run', or use --runtime-dir if it was started with one)");
            return ExitCodes.Failure;
        }
        DBusConnection connection;
        try
        {
            connection = await DBusConnection.ConnectAsync(address);
        }
        catch (Exception e) when (e is SocketException or IOException or DBusConnectionClosedException or DBusProtocolException or UnauthorizedAccessException)
        {
            error.WriteLine($"supervisor: cannot reach the daemon at '{socket}': {e.Message}");
            error.WriteLine("supervisor: is 'supervisor run' running? (use --runtime-dir if it was started with one)");
            return ExitCodes.Failure;
        }
        await using (connection)
        {
            try
            {
                return await action(connection);
            }
            catch (DBusErrorException e)
            {
                error.WriteLine($"supervisor: {e.Message}" + (e.ErrorName == DBusErrors.AccessDenied ? " (run it as root, e.g. with sudo)" : ""));
                return ExitCodes.Failure;
            }
            catch (DBusConnectionClosedException e)
            {
                error.WriteLine($"supervisor: the daemon closed the connection: {e.Message}");
                return ExitCodes.Failure;
            }
        }
    }

    private static Task<object[]> Call(DBusConnection c, string path, string iface, string member, string sig = "", params object[] args) =>
        c.CallAsync(ControlApi.BusName, path, iface, member, sig, args);

    private static async Task<Dictionary<string, object>> Properties(DBusConnection c, string unit)
    {
        var path = (ObjectPath)(await Call(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "GetUnit", "s", unit))[0];
        var all = (await Call(c, path.ToString(), "org.freedesktop.DBus.Properties", "GetAll", "s", ControlApi.UnitInterface))[0];
        return ((KeyValuePair<object, object>[])all).ToDictionary(kv => (string)kv.Key, kv => ((Variant)kv.Value).Value, StringComparer.Ordinal);
    }

    private sealed record UnitRow(string Name, string Description, string Load, string Active, string Sub);

    private static async Task<List<UnitRow>> List(DBusConnection c)
    {
        var rows = (object[])(await Call(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "ListUnits"))[0];
        return rows.Select(r => (DBusStruct)r).Select(s => new UnitRow((string)s[0], (string)s[1], (string)s[2], (string)s[3], (string)s[4])).ToList();
    }

    private static bool Colour(TextWriter output) => output == Console.Out && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    private static string Dot(string active, bool colour) => !colour ? "●" : active switch
    {
        "active" => "\e[32m●\e[0m",
        "failed" => "\e[31m●\e[0m",
        "activating" or "deactivating" or "reloading" => "\e[33m●\e[0m",
        _ => "●",
    };

    private static Command ListUnits(TextWriter output, TextWriter error)
    {
        var runtime = RuntimeDir();
        var json = Json();
        var command = new Command("list-units", "List every loaded unit with its state.") { runtime, json };
        command.SetAction((r, _) => WithDaemon(r.GetValue(runtime)!, error, async c =>
        {
            var rows = await List(c);
            if (r.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(rows.Select(u => new Dictionary<string, string>
                {
                    ["name"] = u.Name, ["description"] = u.Description, ["load"] = u.Load, ["active"] = u.Active, ["sub"] = u.Sub,
                }), new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Ok;
            }
            PrintTable(output, rows);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void PrintTable(TextWriter output, List<UnitRow> rows)
    {
        bool colour = Colour(output);
        int w = Math.Max(4, rows.Select(r => r.Name.Length).DefaultIfEmpty(4).Max());
        output.WriteLine($"  {"UNIT".PadRight(w)}  {"LOAD",-11}  {"ACTIVE",-12}  {"SUB",-14}  DESCRIPTION");
        foreach (var u in rows)
            output.WriteLine($"{Dot(u.Active, colour)} {u.Name.PadRight(w)}  {u.Load,-11}  {u.Active,-12}  {u.Sub,-14}  {u.Description}");
        output.WriteLine($"\n{rows.Count} unit(s); {rows.Count(r => r.Active == "active")} active, {rows.Count(r => r.Active == "failed")} failed.");
    }

    private static Command Status(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string?>("UNIT") { Description = "a unit name; without it, every unit", Arity = ArgumentArity.ZeroOrOne };
        var runtime = RuntimeDir();
        var state = new Option<string>("--state-dir") { Description = "where the unit logs are", DefaultValueFactory = _ => DefaultStateDirectory };
        var lines = new Option<int>("-n", "--lines") { Description = "log lines to show", DefaultValueFactory = _ => 10 };
        var json = Json();
        var command = new Command("status", "Show a unit's state, resources, isolation and recent log (exit 3 if it is not active).") { unit, runtime, state, lines, json };
        command.SetAction((r, _) => WithDaemon(r.GetValue(runtime)!, error, async c =>
        {
            var name = r.GetValue(unit);
            if (name is null)
            {
                var rows = await List(c);
                var layout = (string)((Variant)(await Call(c, ControlApi.ManagerPath, "org.freedesktop.DBus.Properties", "Get", "ss", ControlApi.ManagerInterface, "CgroupLayout"))[0]).Value;
                if (r.GetValue(json))
                    output.WriteLine(JsonSerializer.Serialize(new { cgroups = layout, units = rows }, new JsonSerializerOptions { WriteIndented = true }));
                else
                {
                    PrintTable(output, rows);
                    output.WriteLine($"cgroups: {layout}");
                }
                return ExitCodes.Ok;
            }
            var p = await Properties(c, name);
            if (r.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(p.ToDictionary(kv => kv.Key, kv => kv.Value is object[] a ? a.Select(x => x.ToString()).ToArray() : (object)(kv.Value.ToString() ?? "")),
                    new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                PrintStatus(output, p, UnitLog.Tail(Path.Combine(r.GetValue(state)!, "logs"), name, r.GetValue(lines)));
            }
            return (string)p["ActiveState"] == "active" ? ExitCodes.Ok : NotActive;
        }));
        return command;
    }

    private static void PrintStatus(TextWriter o, Dictionary<string, object> p, IReadOnlyList<string> log)
    {
        bool colour = Colour(o);
        string S(string k) => p.TryGetValue(k, out var v) ? v.ToString() ?? "" : "";
        ulong T(string k) => p.TryGetValue(k, out var v) && v is ulong u ? u : ControlApi.Unset;
        string Bytes(ulong b) => b == ControlApi.Unset ? "-" : b >= 1 << 30 ? $"{b / (double)(1 << 30):0.0}G" : b >= 1 << 20 ? $"{b / (double)(1 << 20):0.0}M" : b >= 1 << 10 ? $"{b / 1024.0:0.0}K" : $"{b}B";

        o.WriteLine($"{Dot(S("ActiveState"), colour)} {S("Id")} - {S("Description")}");
        o.WriteLine($"      Loaded: {S("LoadState")} ({S("FragmentPath")})");
        var result = S("Result");
        var since = S("ActiveState") is "active" or "reloading" && T("ActiveEnterTimestamp") is var ts && ts is not 0 and not ControlApi.Unset
            ? " since " + DateTimeOffset.FromUnixTimeMilliseconds((long)(ts / 1000)).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";
        o.WriteLine($"      Active: {S("ActiveState")} ({S("SubState")}){since}{(result == "success" ? "" : $"; result: {result}")}");
        if (S("MainPID") is { } pid && pid != "0") o.WriteLine($"    Main PID: {pid}");
        o.WriteLine($"    Restarts: {S("NRestarts")}");
        if (T("MemoryCurrent") != ControlApi.Unset || T("MemoryMax") != ControlApi.Unset)
            o.WriteLine($"      Memory: {Bytes(T("MemoryCurrent"))}{(T("MemoryMax") == ControlApi.Unset ? "" : $" (max {Bytes(T("MemoryMax"))})")}");
        if (T("TasksCurrent") != ControlApi.Unset)
            o.WriteLine($"       Tasks: {T("TasksCurrent")}{(T("TasksMax") == ControlApi.Unset ? "" : $" (max {T("TasksMax")})")}");
        if (T("CPUUsageNSec") != ControlApi.Unset)
            o.WriteLine($"         CPU: {T("CPUUsageNSec") / 1e9:0.000}s{(T("CPUQuotaPerSecUSec") == ControlApi.Unset ? "" : $" (quota {T("CPUQuotaPerSecUSec") / 10000.0:0.##}%)")}");
        if (p.TryGetValue("Namespaces", out var ns) && ns is object[] { Length: > 0 } nsa)
            o.WriteLine($"  Namespaces: {string.Join(' ', nsa)}");
        o.WriteLine($"     Seccomp: {(p.TryGetValue("SeccompEnabled", out var sc) && sc is true ? "yes" : "no")}");
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

    private static Command Job(string name, string method, string description, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var runtime = RuntimeDir();
        var command = new Command(name, description) { unit, runtime };
        command.SetAction((r, _) => WithDaemon(r.GetValue(runtime)!, error, async c =>
        {
            await Call(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, method, "ss", r.GetValue(unit)!, "replace");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ResetFailed(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var runtime = RuntimeDir();
        var command = new Command("reset-failed", "Clear a unit's failed state and start-limit counter.") { unit, runtime };
        command.SetAction((r, _) => WithDaemon(r.GetValue(runtime)!, error, async c =>
        {
            await Call(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "ResetFailedUnit", "s", r.GetValue(unit)!);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Plan(TextWriter output, TextWriter error, string name, string method, string description)
    {
        var runtime = RuntimeDir();
        var json = Json();
        var command = new Command(name, description) { runtime, json };
        command.SetAction((r, _) => WithDaemon(r.GetValue(runtime)!, error, async c =>
        {
            var rows = ((object[])(await Call(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, method))[0]).Select(x => (DBusStruct)x).ToList();
            if (r.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(rows.Select(s => new Dictionary<string, string>
                {
                    ["unit"] = (string)s[0], ["action"] = (string)s[1], ["reason"] = (string)s[2], ["changes"] = (string)s[3],
                }), new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Ok;
            }
            if (rows.Count == 0) output.WriteLine("No changes: what runs matches the unit files.");
            foreach (var s in rows)
            {
                output.WriteLine($"{(string)s[0]}: {(string)s[1]} — {(string)s[2]}");
                foreach (var change in ((string)s[3]).Split("; ", StringSplitOptions.RemoveEmptyEntries))
                    output.WriteLine($"    {change}");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Logs(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var state = new Option<string>("--state-dir") { Description = "the daemon's state directory", DefaultValueFactory = _ => DefaultStateDirectory };
        var lines = new Option<int>("-n", "--lines") { Description = "how many lines", DefaultValueFactory = _ => 50 };
        var follow = new Option<bool>("-f", "--follow") { Description = "keep printing new lines" };
        var since = new Option<string?>("--since") { Description = "only lines from this time on: a UTC time like 2026-11-25T13:00:00, or a duration ago like 10min" };
        var command = new Command("logs", "Print a unit's output (timestamped, with the supervisor's own lines about it).") { unit, state, lines, follow, since };
        command.SetAction(async (r, ct) =>
        {
            var dir = Path.Combine(r.GetValue(state)!, "logs");
            var name = r.GetValue(unit)!;
            var path = UnitLog.PathFor(dir, name);
            if (!File.Exists(path) && !File.Exists(path + ".1"))
            {
                error.WriteLine($"supervisor: no log for unit '{name}' in '{dir}' (has it run? use --state-dir if the daemon was started with one)");
                return ExitCodes.Failure;
            }
            DateTime? from = null;
            if (r.GetValue(since) is { } text)
            {
                if (Units.Values.Duration.TryParse(text, out var ago) && !ago.IsInfinity)
                    from = DateTime.UtcNow - ago.ToTimeSpan();
                else if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
                    from = at;
                else
                {
                    error.WriteLine($"supervisor: --since: expected a UTC time like 2026-11-25T13:00:00 or a duration like 10min, got \"{text}\"");
                    return ExitCodes.Usage;
                }
            }
            foreach (var l in UnitLog.Tail(dir, name, r.GetValue(lines), from)) output.WriteLine(l);
            if (!r.GetValue(follow)) return ExitCodes.Ok;
            long position = File.Exists(path) ? new FileInfo(path).Length : 0;
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    await Task.Delay(250, ct);
                    var length = File.Exists(path) ? new FileInfo(path).Length : 0;
                    if (length < position) position = 0; // rotated
                    if (length == position) continue;
                    using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    s.Position = position;
                    using var reader = new StreamReader(s);
                    output.Write(await reader.ReadToEndAsync(ct));
                    output.Flush();
                    position = length;
                }
            }
            catch (OperationCanceledException) { }
            return ExitCodes.Ok;
        });
        return command;
    }
}
