using System.CommandLine;
using Supervisor.Cli.Control;
using Supervisor.DBus;

namespace Supervisor.Cli.Commands;

/// <summary>
/// The client side of the control API: status, list-units, start, stop, restart, reload,
/// reset-failed, plan, daemon-reload and logs. They talk to `supervisor run` over its private
/// D-Bus socket or a bus (logs reads the log files directly, so it works without the daemon),
/// each under one deadline (--timeout, 25 s by default).
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
    internal static Option<string?> NewBusOption() => new("--bus") { Description = "talk to the daemon over a bus instead of its private socket: 'system' or a D-Bus address", Recursive = true };

    internal static Option<bool> Json() => new("--json") { Description = "print JSON" };

    public static IEnumerable<Command> Build(TextWriter output, TextWriter error)
    {
        yield return StatusCommand.Build(output, error);
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
        yield return ResetFailed(error);
        yield return Plan(output, error, "plan", "Plan", "Preview what the next reconcile would do to each unit (start, stop, restart and why, apply live old → new), without doing it.");
        yield return Plan(output, error, "daemon-reload", "Reload", "Read the unit files again and reconcile now; prints what was done (needs root or the admin group).");
        yield return LogsCommand.Build(output, error);
    }

    /// <summary>Set once per command line from the root's recursive --bus option.</summary>
    internal static void UseBus(string? bus) => DaemonClient.UseBus(bus);

    internal sealed record UnitRow(string Name, string Description, string Load, string Active, string Sub);

    internal static List<UnitRow> List(DaemonClient c)
    {
        var rows = (object[])c.ManagerCall("ListUnits")[0];
        return rows.Select(r => (DBusStruct)r).Select(s => new UnitRow((string)s[0], (string)s[1], (string)s[2], (string)s[3], (string)s[4])).ToList();
    }

    internal static bool Colour(TextWriter output) => output == Console.Out && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    internal static string Dot(string active, bool colour) => !colour ? "●" : active switch
    {
        "active" => "\e[32m●\e[0m",
        "failed" => "\e[31m●\e[0m",
        "activating" or "deactivating" or "reloading" => "\e[33m●\e[0m",
        _ => "●",
    };

    /// <summary>The columns of list-units --json (and of each unit in status --json).</summary>
    internal static readonly (string Key, Func<UnitRow, string> Value)[] ListColumns =
        [("name", u => u.Name), ("description", u => u.Description), ("load", u => u.Load), ("active", u => u.Active), ("sub", u => u.Sub)];

    private static Command ListUnits(TextWriter output, TextWriter error)
    {
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var json = Json();
        var command = new Command("list-units", "List every loaded unit with its state.") { runtime, json, timeout };
        command.SetAction(r => DaemonClient.Run(ClientOptions.From(r, runtime, timeout), error, c =>
        {
            var rows = List(c);
            if (r.GetValue(json)) JsonOutput.PrintRows(output, rows, ListColumns);
            else PrintTable(output, rows);
            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static void PrintTable(TextWriter output, List<UnitRow> rows)
    {
        bool colour = Colour(output);
        int w = Math.Max(4, rows.Select(r => r.Name.Length).DefaultIfEmpty(4).Max());
        output.WriteLine($"  {"UNIT".PadRight(w)}  {"LOAD",-11}  {"ACTIVE",-12}  {"SUB",-14}  DESCRIPTION");
        foreach (var u in rows)
            output.WriteLine($"{Dot(u.Active, colour)} {u.Name.PadRight(w)}  {u.Load,-11}  {u.Active,-12}  {u.Sub,-14}  {u.Description}");
        output.WriteLine($"\n{rows.Count} unit(s); {rows.Count(r => r.Active == "active")} active, {rows.Count(r => r.Active == "failed")} failed.");
    }

    private static Command Job(string name, string method, string description, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var command = new Command(name, description) { unit, runtime, timeout };
        command.SetAction(r => DaemonClient.Run(ClientOptions.From(r, runtime, timeout), error, c =>
        {
            var target = r.GetValue(unit)!;
            c.Job(method, "ss", [target, "replace"], name, target);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ResetFailed(TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var command = new Command("reset-failed", "Clear a unit's failed state and start-limit counter.") { unit, runtime, timeout };
        command.SetAction(r => DaemonClient.Run(ClientOptions.From(r, runtime, timeout), error, c =>
        {
            var target = r.GetValue(unit)!;
            c.Job("ResetFailedUnit", "s", [target], "reset-failed", target);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Plan(TextWriter output, TextWriter error, string name, string method, string description)
    {
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var json = Json();
        var command = new Command(name, description) { runtime, json, timeout };
        command.SetAction(r => DaemonClient.Run(ClientOptions.From(r, runtime, timeout), error, c =>
        {
            var reply = method == "Reload" ? c.Job(method, "", [], "reload of the unit files", null) : c.ManagerCall(method);
            var rows = ((object[])reply[0]).Select(x => (DBusStruct)x).ToList();
            if (r.GetValue(json))
            {
                JsonOutput.PrintRows(output, rows,
                    ("unit", s => (string)s[0]), ("action", s => (string)s[1]), ("reason", s => (string)s[2]), ("changes", s => (string)s[3]));
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
}
