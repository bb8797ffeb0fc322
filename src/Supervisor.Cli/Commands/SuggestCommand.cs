using System.CommandLine;
using Supervisor.Runtime.Seccomp;
using Supervisor.Sandbox.Suggest;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor security --suggest UNIT`: what learn mode recorded for the unit (the daemon's
/// state directory when one answers, else --state-dir, else /var/lib/supervisor) and its
/// declaration, turned into a drop-in to save as units/UNIT.toml.d/50-suggested.toml
/// (<see cref="HardeningSuggestion"/>; printed by <see cref="SuggestOutput"/>).
/// </summary>
internal static class SuggestCommand
{
    /// <summary>The learned file and its contents.</summary>
    internal sealed record Learned(LearnedCalls Calls, string File);

    public static int Run(string[] targets, ParseResult r, SandboxCommands.SourceOptions source, string? stateOption, bool json, TextWriter output, TextWriter error)
    {
        if (targets.Length != 1)
        {
            error.WriteLine("supervisor: security --suggest takes exactly one unit name");
            return ExitCodes.Usage;
        }
        var name = targets[0];
        var paths = Resolve(name, r, source, stateOption, error);
        var (def, code) = SandboxCommands.LoadUnit(name, paths, error);
        if (def is null) return code;
        if (Load(name, paths.StateDirectory, error) is not { } learned) return ExitCodes.Failure;
        var use = UseOf(learned.Calls, def);
        var suggestion = HardeningSuggestion.For(def, use);
        var target = Path.Combine(paths.UnitsDirectory, name + ".toml.d", "50-suggested.toml");
        if (json) SuggestOutput.PrintJson(output, def, learned, suggestion, target);
        else output.Write(SuggestOutput.Toml(def, learned, suggestion, target));
        return ExitCodes.Ok;
    }

    /// <summary>--units and --state-dir when given, else the running daemon's, else the defaults.</summary>
    private static DaemonPaths Resolve(string name, ParseResult r, SandboxCommands.SourceOptions source, string? stateOption, TextWriter error)
    {
        var units = r.GetValue(source.Units);
        var paths = units is not null && stateOption is not null ? DaemonPaths.Defaults
            : DaemonPaths.Resolve(source.Client(r), error, name);
        paths = paths.Override(units, null);
        return stateOption is null ? paths : paths with { StateDirectory = stateOption };
    }

    /// <summary>What was learned for <paramref name="unit"/>; null, with the reason on <paramref name="error"/>, when nothing was.</summary>
    internal static Learned? Load(string unit, string stateDirectory, TextWriter error)
    {
        var file = LearnedCalls.PathFor(stateDirectory, unit);
        var calls = LearnedCalls.Load(stateDirectory, unit, out var damaged);
        if (damaged is not null)
        {
            error.WriteLine($"supervisor: {unit}: cannot read what was learned from '{file}': {damaged}");
            return null;
        }
        if (calls.Calls.Count == 0)
        {
            error.WriteLine($"supervisor: {unit}: nothing learned yet ('{file}' {(File.Exists(file) ? "is empty" : "does not exist")}): " +
                "run the unit with SystemCallFilterMode = \"learn\" first, drive it through its work, then ask again (use --state-dir if the daemon keeps its state elsewhere)");
            return null;
        }
        return new Learned(calls, file);
    }

    /// <summary>The learned calls, with the calls the unit's filter let through unreported.</summary>
    internal static LearnedUse UseOf(LearnedCalls learned, UnitDefinition unit) => new(
        new HashSet<string>(learned.Calls, StringComparer.Ordinal), new HashSet<int>(learned.AddressFamilies), learned.Arguments,
        LearnedUse.BaselineOf(unit.Sandbox));

    /// <summary>The learned calls for the exposure line; null when nothing was learned (or the file cannot be read).</summary>
    internal static IReadOnlySet<string>? LearnedCallsOf(string unit, string stateDirectory)
    {
        var calls = LearnedCalls.Load(stateDirectory, unit, out var damaged);
        return damaged is null && calls.Calls.Count > 0 ? new HashSet<string>(calls.Calls, StringComparer.Ordinal) : null;
    }
}
