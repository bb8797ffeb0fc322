using System.Text.RegularExpressions;
using Supervisor.Import.Ini;
using Supervisor.Units;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using V = Supervisor.Units.Keys.ValueTypes;

namespace Supervisor.Import.Translate;

/// <summary>
/// Translates one systemd unit: each assignment goes to the Supervisor key of its name (through
/// the key table, in the sections systemd's section maps to, or by a rename), each key's
/// assignments are converted together by the key's type, and every directive that finds no
/// key, or whose value has no Supervisor form, is reported with its file and line.
/// </summary>
public static partial class UnitTranslator
{
    [GeneratedRegex("%[^%]")]
    private static partial Regex Specifier();

    public static Candidate Translate(SystemdUnit unit)
    {
        var kind = unit.Name.Type switch { "slice" => UnitKind.Slice, "socket" => UnitKind.Socket, _ => UnitKind.Service };
        var name = kind == UnitKind.Service ? unit.Name.Full[..^".service".Length] : unit.Name.Full;
        var report = new Report();
        var candidate = new Candidate(unit, name, kind, report);
        var ctx = new Context(unit, report);
        foreach (var file in unit.Files)
            foreach (var ignored in file.Ignored)
                report.Add(ignored.Location, "", "(syntax)", Why.IgnoredBySystemd, ignored.Reason);
        var inputs = Route(unit, kind, report);
        foreach (var input in inputs.Where(i => !ValueConverters.IsCommand(i.Spec)))
            Convert(input, ctx, candidate);
        Commands(inputs.Where(i => ValueConverters.IsCommand(i.Spec)).ToList(), ctx, candidate);
        SystemdDefaults(ctx, candidate);
        candidate.Entries.Sort((a, b) => Order(a.Spec).CompareTo(Order(b.Spec)));
        return candidate;
    }

    private static readonly Dictionary<KeySpec, int> TableOrder = KeyTable.All.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);

    private static int Order(KeySpec spec) => TableOrder[spec];

    /// <summary>Each assignment to the key it sets, in file order, or a report of why it sets none.</summary>
    private static List<KeyInput> Route(SystemdUnit unit, UnitKind kind, Report report)
    {
        var inputs = new List<KeyInput>();
        var sections = SystemdDirectives.SectionsOf(unit.Name.Type);
        foreach (var a in unit.Assignments)
        {
            if (Skip(a, sections, unit.Name.Type) is { } skip)
            {
                report.Add(a, skip.Why, skip.Reason);
                continue;
            }
            Target[]? targets = SystemdDirectives.Renames.TryGetValue((a.Section, a.Key), out var renamed) ? renamed
                : SystemdDirectives.IsKnown(a.Section, a.Key) ? [new Target(a.Key)]
                : null;
            if (targets is null)
            {
                report.Add(a, Why.UnknownToSystemd, $"systemd 252 does not know [{a.Section}] {a.Key} either (it ignores it with a warning)");
                continue;
            }
            foreach (var target in targets)
            {
                var homes = target.Section is { } s ? [s] : SystemdDirectives.SectionHomes[a.Section];
                var spec = KeyTable.All.FirstOrDefault(k => k.Name == target.Key && homes.Contains(k.Section) && KeyTable.SectionsFor(kind).Contains(k.Section));
                if (spec is null)
                {
                    report.Add(a, Why.NotBuiltYet, "no such key in Supervisor (not built yet)");
                    break;
                }
                var input = inputs.FirstOrDefault(i => i.Spec == spec);
                if (input is null) inputs.Add(input = new KeyInput(spec));
                input.Contributions.Add(new Contribution(a, target.Convert?.Invoke(a.Value) ?? a.Value));
            }
        }
        return inputs;
    }

    /// <summary>Why an assignment sets no key before any key is looked for: its section, an extension, or a directive left out on purpose.</summary>
    private static (Why Why, string Reason)? Skip(IniAssignment a, IReadOnlyList<string> sections, string type)
    {
        if (!sections.Contains(a.Section))
            return a.Section.StartsWith("X-", StringComparison.Ordinal)
                ? (Why.Extension, $"[{a.Section}] is an extension section, for other programs; systemd ignores it too")
                : (Why.IgnoredBySystemd, $"systemd ignores section [{a.Section}] in a .{type} unit");
        if (a.Section == "Install") return (Why.InitOnly, SystemdDirectives.InstallReason);
        if (a.Key.StartsWith("X-", StringComparison.Ordinal)) return (Why.Extension, "an extension key, for other programs; systemd ignores it too");
        if (SystemdDirectives.LeftOutOnPurpose.TryGetValue(a.Key, out var leftOut) && SystemdDirectives.IsKnown(a.Section, a.Key)) return leftOut;
        return null;
    }

    private static void Convert(KeyInput input, Context ctx, Candidate candidate)
    {
        var info = ValueConverters.For(input.Spec);
        try
        {
            var converted = info.Convert(input, ctx);
            if (converted.Value is null) return;
            candidate.Entries.Add(new Entry(input.Spec, converted.Value, converted.Sources));
            if (info.Textual) ReportSpecifiers(converted.Sources, ctx.Report);
        }
        catch (NotCarriedException e)
        {
            ctx.Report.Add(e.At, e.Why, e.Message);
        }
        catch (WordSyntaxException e)
        {
            ctx.Report.Add(input.Contributions[^1].Assignment, Why.IgnoredBySystemd, $"{e.Message}; systemd ignores the line");
        }
    }

    private static void ReportSpecifiers(IEnumerable<Contribution> sources, Report report)
    {
        foreach (var c in sources)
        {
            // Specifiers are resolved by the loader with systemd's meaning; only one it does not know is worth a word.
            var found = Specifier().Matches(c.Value.Replace("%%", "", StringComparison.Ordinal)).Select(m => m.Value)
                .Where(m => !Supervisor.Units.Templates.Specifiers.Known.Split(' ').Contains(m)).Distinct().ToList();
            if (found.Count > 0)
                report.Add(c.Assignment, Why.NotExpressible, $"{string.Join(" ", found)}: no such specifier here (known: {Supervisor.Units.Templates.Specifiers.Known}); the loader will refuse the value");
        }
    }

    /// <summary>
    /// The Exec* keys, after the others (a command's meaning depends on Environment and
    /// PermissionsStartOnly). Several ExecStart lines are systemd's oneshot form, which Supervisor
    /// has too: an array of commands, run in order.
    /// </summary>
    private static void Commands(List<KeyInput> inputs, Context ctx, Candidate candidate)
    {
        var setting = Setting(ctx, candidate);
        foreach (var input in inputs.OrderBy(i => i.Spec.Name == "ExecStart" ? 0 : 1))
        {
            List<(object Command, Contribution From)> commands;
            try
            {
                commands = ExecConverter.Convert(input, ctx, setting);
            }
            catch (NotCarriedException e)
            {
                ctx.Report.Add(e.At, e.Why, e.Message);
                continue;
            }
            if (commands.Count == 0) continue;
            if (input.Spec.Name != "ExecStart")
                candidate.Entries.Add(new Entry(input.Spec, Plain.List(commands.Select(c => c.Command)), [.. commands.Select(c => c.From).Distinct()]));
            else if (commands.Count == 1)
                candidate.Entries.Add(new Entry(input.Spec, commands[0].Command, [commands[0].From]));
            else if (IsOneshot(ctx))
                candidate.Entries.Add(new Entry(input.Spec, Plain.List(commands.Select(c => c.Command)), [.. commands.Select(c => c.From).Distinct()]));
            else
                ctx.Report.Add(commands[1].From.Assignment, Why.NotExpressible, "several ExecStart= lines; systemd refuses that unless Type=oneshot");
            ReportSpecifiers(commands.Select(c => c.From).Distinct(), ctx.Report);
        }
    }

    private static bool IsOneshot(Context ctx) => ctx.Final("Type") == "oneshot";

    /// <summary>
    /// Where systemd's default differs from Supervisor's, the unit says systemd's explicitly:
    /// systemd does not time out the start of a Type=oneshot service unless told to
    /// (systemd.service(5), TimeoutStartSec=); Supervisor's default is 90s for every type.
    /// </summary>
    private static void SystemdDefaults(Context ctx, Candidate candidate)
    {
        if (!IsOneshot(ctx) || ctx.Unit.Assignments.Any(a => a is { Section: "Service", Key: "TimeoutStartSec" or "TimeoutSec" })) return;
        if (candidate.Entries.Any(e => e.Spec.Name == "Type") && KeyTable.Find(KeyTable.ServiceSection, "TimeoutStartSec") is { } spec)
        {
            candidate.Entries.Add(new Entry(spec, "infinity", []));
            ctx.Report.Notes.Add($"{ctx.Unit.Path}: TimeoutStartSec: written as \"infinity\", systemd's default for Type=oneshot (Supervisor's default is 90s)");
        }
    }

    private static ExecSetting Setting(Context ctx, Candidate candidate)
    {
        var env = candidate.Entries.FirstOrDefault(e => e.Spec.Type == V.Environment.Describe);
        return new ExecSetting(
            Environment: SetConverters.FinalEnvironment(env?.Sources ?? []),
            EnvironmentFiles: ctx.IsSet("EnvironmentFile"),
            PermissionsStartOnly: ctx.Final("PermissionsStartOnly") is { } p && SystemdValues.TryBool(p, out var yes) && yes,
            SetBySupervisorHere: SetBySupervisorHere(ctx));
    }

    /// <summary>
    /// Variables systemd sets only for some units, which Supervisor sets for the same units: the
    /// directories' ($RUNTIME_DIRECTORY …), $CREDENTIALS_DIRECTORY, $WATCHDOG_USEC, and $TERM for a
    /// service on a terminal (systemd's exec_context_needs_term).
    /// </summary>
    private static HashSet<string> SetBySupervisorHere(Context ctx)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kind in new[] { "Runtime", "State", "Cache", "Logs", "Configuration" })
            if (!string.IsNullOrWhiteSpace(ctx.Final(kind + "Directory"))) set.Add(kind.ToUpperInvariant() + "_DIRECTORY");
        if (ctx.IsSet("LoadCredential") || ctx.IsSet("SetCredential")) set.Add("CREDENTIALS_DIRECTORY");
        if (ctx.Final("WatchdogSec") is { } w && w.Trim() is not ("" or "0" or "infinity")) set.Add("WATCHDOG_USEC");
        bool tty = ctx.Final("StandardInput")?.Trim().StartsWith("tty", StringComparison.Ordinal) == true
            || ctx.Final("StandardOutput")?.Trim() == "tty" || ctx.Final("StandardError")?.Trim() == "tty" || ctx.IsSet("TTYPath");
        if (tty) set.Add("TERM");
        return set;
    }
}
