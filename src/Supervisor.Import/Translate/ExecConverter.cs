using System.Text;
using Supervisor.Import.Ini;
using Supervisor.Units;
using Supervisor.Units.Keys;

namespace Supervisor.Import.Translate;

/// <summary>What an Exec* line's meaning depends on besides itself.</summary>
public sealed record ExecSetting(
    IReadOnlyDictionary<string, string> Environment,
    bool EnvironmentFiles,
    bool UserOrGroup,
    bool Sandbox,
    bool ShellUnavailable,
    bool PermissionsStartOnly);

/// <summary>
/// Exec* lines into Supervisor commands. systemd expands $NAME (a word of its own, split at
/// whitespace) and ${NAME} (within a word) when the command starts, and "$$" is a "$"; Supervisor
/// passes argv as written. So a variable the unit sets with Environment= (and no EnvironmentFile=
/// could change) is expanded now; one that comes from an EnvironmentFile= or that Supervisor sets
/// (PATH, USER, HOME …) is left to /bin/sh at start (<c>/bin/sh -c 'set -f; exec …'</c>, which
/// splits $NAME at whitespace and globs nothing; unlike systemd it does not keep a quoted part of
/// the value together, which the note on the command says); one that only systemd sets ($MAINPID)
/// cannot be carried.
/// </summary>
public static class ExecConverter
{
    private enum Part { Literal, Braced, Split }

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
                commands.Add((Command(line, c, ctx, setting), c));
        }
        return commands;
    }

    private static object Command(ExecLine line, Contribution c, Context ctx, ExecSetting setting)
    {
        Prefixes(line, c, setting);
        bool ignore = line.Prefix.HasFlag(ExecPrefix.IgnoreFailure);
        var args = new List<List<(Part Kind, string Text)>>();
        foreach (var word in line.Argv.Skip(1))
        {
            if (line.Prefix.HasFlag(ExecPrefix.NoEnvExpand)) args.Add([(Part.Literal, word)]);
            else args.AddRange(Expand(word, c, setting));
        }
        var program = (ignore ? "-" : "") + line.Path;
        if (args.All(a => a.All(p => p.Kind == Part.Literal)))
            return Plain.List([program, .. args.Select(a => (object)string.Concat(a.Select(p => p.Text)))]);

        var names = string.Join(", ", args.SelectMany(a => a).Where(p => p.Kind != Part.Literal).Select(p => "$" + p.Text).Distinct());
        if (setting.ShellUnavailable)
            throw new NotCarriedException(c.Assignment, Why.NotExpressible,
                $"{names} must be expanded when the command starts, by /bin/sh, which RootDirectory, RootImage or ExecPaths may not offer");
        var path = line.Path.StartsWith('/') ? line.Path : ExecutableSearch.Lookup(line.Path, null)
            ?? throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"program \"{line.Path}\" is not in {ExecutableSearch.SearchPath}");
        var script = new StringBuilder("set -f; exec ").Append(Quote(path));
        foreach (var arg in args) script.Append(' ').Append(ShellWord(arg));
        ctx.Report.Note(c.Assignment, $"runs through /bin/sh -c, which expands {names} when it starts, as systemd does (but splits a value at every space, quotes in it included)");
        return Plain.List([(ignore ? "-" : "") + "/bin/sh", "-c", script.ToString()]);
    }

    /// <summary>"+", "!" and "!!" change whom the command runs as; carried only where that changes nothing.</summary>
    private static void Prefixes(ExecLine line, Contribution c, ExecSetting setting)
    {
        if (line.Prefix.HasFlag(ExecPrefix.SeparateArgv0) && line.Argv[0] != line.Path)
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"the \"@\" prefix (argv[0] \"{line.Argv[0]}\" for program \"{line.Path}\") has no Supervisor form");
        bool fullyPrivileged = line.Prefix.HasFlag(ExecPrefix.FullyPrivileged) || (setting.PermissionsStartOnly && c.Assignment.Key != "ExecStart");
        var what = line.Prefix.HasFlag(ExecPrefix.FullyPrivileged) ? "the \"+\" prefix" : "PermissionsStartOnly=yes";
        if (fullyPrivileged && (setting.UserOrGroup || setting.Sandbox))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible,
                $"{what} runs the command as root outside the unit's sandbox; Supervisor runs every command with the unit's User and sandbox (not built yet)");
        // "!!" differs from no prefix only on kernels without ambient capabilities (before Linux 4.3).
        if (line.Prefix.HasFlag(ExecPrefix.NoSetuid) && setting.UserOrGroup)
            throw new NotCarriedException(c.Assignment, Why.NotExpressible,
                "the \"!\" prefix runs the command without the unit's User and Group; Supervisor has no such form (not built yet)");
    }

    /// <summary>One word of argv after systemd's expansion: no words, one, or several ($NAME split at whitespace).</summary>
    private static IEnumerable<List<(Part, string)>> Expand(string word, Contribution c, ExecSetting setting)
    {
        if (word.Length > 1 && word[0] == '$' && word[1] is not ('{' or '$'))
        {
            var name = word[1..];
            var value = Resolve(name, c, setting);
            if (value is null) return [[(Part.Split, name)]];
            // systemd.service(5): split at whitespace, "quotes are respected when splitting into words, and afterwards removed".
            return SystemdWords.Split(value, WordRules.Unquote | WordRules.Relax).Select(w => new List<(Part, string)> { (Part.Literal, w) });
        }
        var parts = new List<(Part, string)>();
        var literal = new StringBuilder();
        // No "}" after the last one: a "${" there is literal without looking (a word of many "${" stays linear).
        int lastClose = word.LastIndexOf('}');
        for (int i = 0; i < word.Length; i++)
        {
            if (word[i] == '$' && i + 1 < word.Length && word[i + 1] == '$')
            {
                literal.Append('$');
                i++;
            }
            else if (word[i] == '$' && i + 1 < word.Length && word[i + 1] == '{' && lastClose > i + 1 && word.IndexOf('}', i + 2) is var end && end > 0)
            {
                var name = word[(i + 2)..end];
                var value = Resolve(name, c, setting);
                if (value is not null) literal.Append(value);
                else
                {
                    parts.Add((Part.Literal, literal.ToString()));
                    literal.Clear();
                    parts.Add((Part.Braced, name));
                }
                i = end;
            }
            else literal.Append(word[i]);
        }
        parts.Add((Part.Literal, literal.ToString()));
        return [parts];
    }

    /// <summary>The value now (a variable of Environment= that no file can change, or one nobody sets: empty), or null: left to /bin/sh at start.</summary>
    private static string? Resolve(string name, Contribution c, ExecSetting setting)
    {
        if (setting.Environment.TryGetValue(name, out var value) && !setting.EnvironmentFiles) return value;
        if (SystemdDirectives.SetBySystemdOnly.Contains(name) && !setting.Environment.ContainsKey(name))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"${name} is set by systemd, and Supervisor does not set it (not built yet)");
        if (!setting.EnvironmentFiles && !SystemdDirectives.SetBySupervisor.Contains(name)) return "";
        if (name.Length == 0 || char.IsAsciiDigit(name[0]) || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_'))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"\"${name}\" is not a variable name /bin/sh can expand");
        return null;
    }

    private static string ShellWord(List<(Part Kind, string Text)> parts)
    {
        var sb = new StringBuilder();
        foreach (var (kind, text) in parts)
        {
            switch (kind)
            {
                case Part.Literal when text.Length > 0: sb.Append(Quote(text)); break;
                case Part.Braced: sb.Append("\"${").Append(text).Append("}\""); break;
                case Part.Split: sb.Append("${").Append(text).Append('}'); break;
            }
        }
        return sb.Length == 0 ? "''" : sb.ToString();
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
