using Supervisor.Import.Ini;
using Supervisor.Units;
using Supervisor.Units.Keys;

namespace Supervisor.Import.Translate;

/// <summary>What an Exec* line's meaning depends on besides itself.</summary>
public sealed record ExecSetting(
    IReadOnlyDictionary<string, string> Environment,
    bool EnvironmentFiles,
    bool PermissionsStartOnly,
    IReadOnlySet<string>? SetBySupervisorHere = null);

/// <summary>
/// Exec* lines into Supervisor commands. Supervisor reads systemd's prefixes ("-", "@", ":", "+",
/// "!", "!!") and expands $NAME, ${NAME} and "$$" when the command starts, with systemd's rules,
/// so a line is carried as written: the prefixes on the program, the words unquoted. What cannot
/// be carried is a variable only systemd sets ($TERM for a getty …) that the unit does not set itself.
/// PermissionsStartOnly=yes is systemd's old spelling of "+" on every command but ExecStart.
/// </summary>
public static class ExecConverter
{
    /// <summary>The commands of one Exec* key, in order; an empty assignment clears the ones before.</summary>
    public static List<(object Command, Contribution From)> Convert(KeyInput input, Context ctx, ExecSetting setting)
    {
        var commands = new List<(object, Contribution)>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                commands.Clear();
                continue;
            }
            List<ExecLine> lines;
            try
            {
                lines = ExecLines.Parse(c.Value);
            }
            catch (ExecSyntaxException e) when (e.Ignored)
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"{e.Message}; systemd ignores the line (its program has the \"-\" prefix)");
                continue;
            }
            catch (ExecSyntaxException e)
            {
                throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"{e.Message}; systemd refuses the unit because of this line");
            }
            foreach (var line in lines)
                commands.Add((Command(line, c, setting), c));
        }
        return commands;
    }

    private static object Command(ExecLine line, Contribution c, ExecSetting setting)
    {
        var prefix = line.Prefix;
        const ExecPrefix privilege = ExecPrefix.FullyPrivileged | ExecPrefix.NoSetuid | ExecPrefix.AmbientMagic;
        if (setting.PermissionsStartOnly && c.Assignment.Key != "ExecStart" && (prefix & privilege) == 0)
            prefix |= ExecPrefix.FullyPrivileged;
        if (!prefix.HasFlag(ExecPrefix.NoEnvExpand))
            foreach (var name in line.Argv.Skip(1).SelectMany(Variables).Distinct())
                if (SystemdDirectives.SetBySystemdOnly.Contains(name) && !setting.Environment.ContainsKey(name) && !setting.EnvironmentFiles
                    && setting.SetBySupervisorHere?.Contains(name) != true)
                    throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"${name} is set by systemd, and Supervisor does not set it");
        var program = PrefixText(prefix) + line.Path;
        return prefix.HasFlag(ExecPrefix.SeparateArgv0)
            ? Plain.List([program, .. line.Argv])
            : Plain.List([program, .. line.Argv.Skip(1)]);
    }

    /// <summary>The prefixes in Supervisor's order (the one its formatter writes).</summary>
    private static string PrefixText(ExecPrefix p) =>
        (p.HasFlag(ExecPrefix.IgnoreFailure) ? "-" : "") + (p.HasFlag(ExecPrefix.SeparateArgv0) ? "@" : "") +
        (p.HasFlag(ExecPrefix.NoEnvExpand) ? ":" : "") + (p.HasFlag(ExecPrefix.FullyPrivileged) ? "+" : "") +
        (p.HasFlag(ExecPrefix.NoSetuid) ? "!" : "") + (p.HasFlag(ExecPrefix.AmbientMagic) ? "!!" : "");

    /// <summary>The variables a word expands at start: "$NAME" as the whole word, "${NAME}" anywhere in it.</summary>
    private static IEnumerable<string> Variables(string word)
    {
        if (word.Length > 1 && word[0] == '$' && word[1] is not ('{' or '$'))
        {
            yield return word[1..];
            yield break;
        }
        for (int i = 0; i + 1 < word.Length; i++)
        {
            if (word[i] == '$' && word[i + 1] == '$') i++;
            else if (word[i] == '$' && word[i + 1] == '{' && word.IndexOf('}', i + 2) is var end and > 0)
            {
                yield return word[(i + 2)..end];
                i = end;
            }
        }
    }
}
