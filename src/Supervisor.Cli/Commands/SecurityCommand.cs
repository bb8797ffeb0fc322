using System.CommandLine;
using System.Globalization;
using Supervisor.Cli.Control;
using Supervisor.DBus;
using Supervisor.Sandbox.Security;
using Supervisor.Units;
using Supervisor.Units.Model;
using Command = System.CommandLine.Command;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor security [UNIT|FILE…]`: the exposure score of systemd-analyze security (systemd 252's
/// checks and weights), one line per check. A running unit is scored by what its process was
/// found to have (as `inspect` reads it); a file, a unit under --units, or a unit that is not
/// running, by its declaration. --threshold makes it a CI gate.
/// </summary>
internal static class SecurityCommand
{
    /// <summary>One scored unit and where its facts came from ("declared in FILE", "running …").</summary>
    internal sealed record Scored(ExposureReport Report, string Source);

    public static Command Build(TextWriter output, TextWriter error)
    {
        var targets = new Argument<string[]>("UNIT|FILE")
        {
            Description = "unit names (a running one is scored live), unit files or directories (default: every service unit)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = ControlCommands.Json();
        var threshold = new Option<double?>("--threshold") { Description = "exit 1 when a unit's exposure is above this score (0.0–10.0), for CI" };
        var source = SandboxCommands.SourceOptions.Create("score the declarations in this directory, without asking the daemon", "the daemon's cgroup subtree");
        var suggest = new Option<bool>("--suggest") { Description = "print a drop-in with the SystemCallFilter, capabilities, address families and namespaces the unit was seen to need (run it with SystemCallFilterMode = \"learn\" first)" };
        var state = new Option<string?>("--state-dir") { Description = "where learn mode's records are (default: the running daemon's, else /var/lib/supervisor)" };
        var command = new Command("security", "Score each unit's exposure 0.0–10.0 (lower is safer) with the checks and weights of systemd-analyze security, one line per check; a running unit is scored by what its process has. --suggest UNIT prints the hardening it was seen to tolerate.")
        { targets, json, threshold, suggest, state, source.Units, source.CgroupRoot, source.Runtime, source.Timeout };
        command.SetAction(async (r, _) =>
        {
            if (r.GetValue(suggest))
                return SuggestCommand.Run(r.GetValue(targets) ?? [], r, source, r.GetValue(state), r.GetValue(json), output, error);
            var limit = r.GetValue(threshold);
            if (limit is < 0 or > 10 || (limit is { } l && double.IsNaN(l)))
            {
                error.WriteLine($"supervisor: --threshold {limit?.ToString(CultureInfo.InvariantCulture)}: expected a score from 0.0 to 10.0");
                return ExitCodes.Usage;
            }
            var (scored, ok) = await ScoreAllAsync(r.GetValue(targets) ?? [], r, source, r.GetValue(state), error);
            if (r.GetValue(json)) SecurityOutput.PrintJson(output, scored, limit);
            else SecurityOutput.PrintText(output, scored);
            foreach (var s in scored.Where(s => Above(s.Report, limit)))
                error.WriteLine($"supervisor: {s.Report.Unit}: exposure {s.Report.Score} is above the threshold {limit!.Value.ToString("0.0", CultureInfo.InvariantCulture)}");
            return ok && !scored.Any(s => Above(s.Report, limit)) ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    /// <summary>Above the threshold: compared in tenths, as the score is printed.</summary>
    internal static bool Above(ExposureReport report, double? threshold) =>
        threshold is { } t && report.ScoreTenths > (int)Math.Round(t * 10, MidpointRounding.AwayFromZero);

    private static async Task<(List<Scored> Scored, bool Ok)> ScoreAllAsync(string[] targets, ParseResult r, SandboxCommands.SourceOptions source, string? state, TextWriter error)
    {
        var scored = new List<Scored>();
        bool ok = true;
        var units = r.GetValue(source.Units);
        if (targets.Length == 0)
        {
            var running = units is null ? RunningUnitNames(source.Client(r), error) : null;
            if (running is null) (scored, ok) = ScorePath(units ?? Cli.DefaultUnitsDirectory, state, error);
            else targets = [.. running];
        }
        foreach (var target in targets)
        {
            var (found, good) = IsPath(target) ? ScorePath(target, state, error) : await ScoreNameAsync(target, r, source, state, error);
            scored.AddRange(found);
            ok &= good;
        }
        if (scored.Count == 0 && ok)
        {
            error.WriteLine("supervisor: no service unit to score");
            ok = false;
        }
        return (scored, ok);
    }

    /// <summary>A FILE argument: a path with a slash or a .toml name, or anything that exists as given.</summary>
    private static bool IsPath(string target) =>
        target.Contains('/') || target.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) || File.Exists(target) || Directory.Exists(target);

    /// <summary>
    /// A unit file (its unit) or a directory (its service units), loaded as `check` loads them
    /// (the units a file names come along, as the daemon would load them, but are not scored).
    /// A unit that is not valid is reported with its diagnostics (file:line:col, unit, key) and not scored.
    /// What learn mode recorded is looked up in --state-dir, else the default state directory.
    /// </summary>
    private static (List<Scored>, bool) ScorePath(string path, string? state, TextWriter error)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            error.WriteLine($"supervisor: '{path}': no such unit file or directory");
            return ([], false);
        }
        var set = UnitLoader.Load([path]);
        var names = Directory.Exists(path)
            ? set.Units.Where(u => u.Value.Definition.Kind == UnitKind.Service).Select(u => u.Key).Concat(set.BadUnits.Keys)
            : [UnitFileName(path)];
        var scored = new List<Scored>();
        bool ok = true;
        foreach (var name in names.Distinct().Order(StringComparer.Ordinal))
        {
            foreach (var d in set.DiagnosticsFor(name)) error.WriteLine(d.ToString());
            if (set.Units.TryGetValue(name, out var unit) && unit.Definition.Kind == UnitKind.Service)
                scored.Add(new Scored(Assess(unit.Definition, state ?? DaemonPaths.Defaults.StateDirectory), $"declared in {unit.Definition.Sources[0]}"));
            else
            {
                error.WriteLine(set.BadUnits.ContainsKey(name) ? $"supervisor: unit '{name}' is not valid (bad-setting); not scored"
                    : set.Units.ContainsKey(name) ? $"supervisor: '{name}' is not a service; only services are scored"
                    : $"supervisor: '{path}' declares no unit (a template is scored through an instance: NAME@INSTANCE --units DIR)");
                ok = false;
            }
        }
        return (scored, ok);
    }

    /// <summary>The unit a file declares: its name without .toml (a slice keeps its ".slice").</summary>
    private static string UnitFileName(string path)
    {
        var file = Path.GetFileName(path);
        return file.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) ? file[..^UnitLoader.UnitSuffix.Length] : file;
    }

    /// <summary>The daemon's service units, or null when no daemon answers.</summary>
    private static List<string>? RunningUnitNames(ClientOptions client, TextWriter error) =>
        DaemonClient.TryAsk(client, error, c =>
            (List<string>?)[.. ControlCommands.List(c).Select(u => u.Name).Where(n => !n.Contains('.', StringComparison.Ordinal))]);

    private sealed record Running(DaemonPaths Paths, int MainPid);

    /// <summary>
    /// A unit name: with --units its declaration there; else the daemon's view: a unit with a main
    /// process is scored live, one without by its declaration in the daemon's units directory;
    /// with no daemon, the declaration in the default units directory.
    /// </summary>
    private static async Task<(List<Scored>, bool)> ScoreNameAsync(string name, ParseResult r, SandboxCommands.SourceOptions source, string? state, TextWriter error)
    {
        var units = r.GetValue(source.Units);
        var client = source.Client(r);
        var running = units is not null ? null : DaemonClient.TryAsk(client, error, c => new Running(DaemonPaths.Ask(c, name), MainPid(c, name)));
        var paths = (running?.Paths ?? DaemonPaths.Defaults).Override(units, r.GetValue(source.CgroupRoot));
        var stateDirectory = state ?? paths.StateDirectory;
        var (def, _) = SandboxCommands.LoadUnit(name, paths, error);
        if (def is null) return ([], false);
        var declared = $"declared in {def.Sources[0]}";
        if (running is not { MainPid: > 0 and var pid })
            return ([new Scored(Assess(def, stateDirectory), running is null ? declared : $"{declared} (not running)")], true);
        if (InspectCommand.ReadState(pid, error) is not { } live) return ([], false);
        if (await InspectCommand.CompareAsync(def, paths, live, client, error) is not { } lines) return ([], false);
        var facts = SecurityFacts.FromDeclaration(def).WithLive(live, lines) with { LearnedSyscalls = SuggestCommand.LearnedCallsOf(def.Name, stateDirectory) };
        return ([new Scored(ExposureScore.Assess(def.Name, facts), $"running, process {pid.ToString(CultureInfo.InvariantCulture)} (live), {declared}")], true);
    }

    /// <summary>A declaration's score, with what learn mode recorded for it.</summary>
    private static ExposureReport Assess(UnitDefinition def, string stateDirectory) =>
        ExposureScore.Assess(def.Name, SecurityFacts.FromDeclaration(def) with { LearnedSyscalls = SuggestCommand.LearnedCallsOf(def.Name, stateDirectory) });

    private static int MainPid(DaemonClient c, string name)
    {
        try
        {
            var path = (ObjectPath)c.ManagerCall("GetUnit", "s", name)[0];
            return (int)(uint)c.Get(path.ToString(), ControlApi.UnitInterface, "MainPID");
        }
        catch (DBusErrorException e) when (e.ErrorName == ControlApi.NoSuchUnitError)
        {
            return 0; // not loaded by the daemon: its declaration is still scored from the units directory
        }
    }
}
