using Supervisor.Import.Ini;

namespace Supervisor.Import.Translate;

/// <summary>systemd's prefixes on the program of an Exec* line (systemd.service(5), table 1).</summary>
[Flags]
public enum ExecPrefix
{
    None = 0,
    /// <summary>"-": a failing exit status is ignored.</summary>
    IgnoreFailure = 1,
    /// <summary>"@": the second word is argv[0].</summary>
    SeparateArgv0 = 2,
    /// <summary>":": no environment variable expansion.</summary>
    NoEnvExpand = 4,
    /// <summary>"+": full privileges, no sandbox.</summary>
    FullyPrivileged = 8,
    /// <summary>"!": the sandbox, but not User/Group.</summary>
    NoSetuid = 16,
    /// <summary>"!!": like "!" only where the kernel lacks ambient capabilities.</summary>
    AmbientMagic = 32,
}

/// <summary>One command of an Exec* line: its prefixes, the program, and argv (argv[0] first).</summary>
public sealed record ExecLine(ExecPrefix Prefix, string Path, IReadOnlyList<string> Argv);

/// <summary>A command line systemd cannot read; <see cref="Ignored"/> when its "-" prefix makes systemd skip it instead of refusing the unit.</summary>
public sealed class ExecSyntaxException(string message, bool ignored) : Exception(message)
{
    public bool Ignored { get; } = ignored;
}

/// <summary>
/// Reads an Exec* value as systemd 252's config_parse_exec does: the prefixes on the first word,
/// words unquoted with C escapes, a lone ";" separating commands on one line and "\;" standing
/// for a literal ";" argument.
/// </summary>
public static class ExecLines
{
    private const string Whitespace = " \t\n\r";

    public static List<ExecLine> Parse(string value)
    {
        var lines = new List<ExecLine>();
        int pos = 0;
        bool ignore = false;
        try
        {
            bool more = true;
            while (more)
            {
                more = false;
                var first = SystemdWords.Next(value, ref pos, WordRules.Unquote | WordRules.CUnescape);
                if (first is null) break;
                if (first == ";")
                {
                    more = true;
                    continue;
                }
                var (prefix, path) = Prefixes(first);
                ignore = prefix.HasFlag(ExecPrefix.IgnoreFailure);
                if (path.Length == 0) throw new ExecSyntaxException($"empty program in \"{value}\"", ignore);
                if (path.EndsWith('/')) throw new ExecSyntaxException($"program \"{path}\" is a directory", ignore);
                if (!path.StartsWith('/') && path.Contains('/')) throw new ExecSyntaxException($"program \"{path}\" is neither an absolute path nor a bare name", ignore);
                var argv = prefix.HasFlag(ExecPrefix.SeparateArgv0) ? new List<string>() : [path];
                more = Arguments(value, ref pos, argv);
                if (argv.Count == 0) throw new ExecSyntaxException($"no argv[0] after \"@{path}\"", ignore);
                lines.Add(new ExecLine(prefix, path, argv));
            }
        }
        catch (WordSyntaxException e)
        {
            throw new ExecSyntaxException(e.Message, ignore || value.TrimStart().TakeWhile(c => "-@:+!".Contains(c)).Contains('-'));
        }
        return lines;
    }

    /// <summary>The arguments up to the end or to a lone ";"; true when a ";" ends them (another command follows).</summary>
    private static bool Arguments(string value, ref int pos, List<string> argv)
    {
        while (pos < value.Length)
        {
            if (value[pos] == ';' && (pos + 1 == value.Length || Whitespace.Contains(value[pos + 1])))
            {
                pos++;
                return true;
            }
            // "\;" alone is a literal ";" argument (and not the escape the word reader would refuse).
            if (value[pos] == '\\' && pos + 1 < value.Length && value[pos + 1] == ';' && (pos + 2 == value.Length || Whitespace.Contains(value[pos + 2])))
            {
                pos += 2;
                while (pos < value.Length && Whitespace.Contains(value[pos])) pos++;
                argv.Add(";");
                continue;
            }
            if (SystemdWords.Next(value, ref pos, WordRules.Unquote | WordRules.CUnescape) is not { } word) break;
            argv.Add(word);
        }
        return false;
    }

    /// <summary>"-", "@", ":", "+", "!" and "!!", each at most once, in any order.</summary>
    private static (ExecPrefix, string) Prefixes(string word)
    {
        var prefix = ExecPrefix.None;
        int i = 0;
        for (; i < word.Length; i++)
        {
            char c = word[i];
            const ExecPrefix privileged = ExecPrefix.FullyPrivileged | ExecPrefix.NoSetuid | ExecPrefix.AmbientMagic;
            if (c == '-' && !prefix.HasFlag(ExecPrefix.IgnoreFailure)) prefix |= ExecPrefix.IgnoreFailure;
            else if (c == '@' && !prefix.HasFlag(ExecPrefix.SeparateArgv0)) prefix |= ExecPrefix.SeparateArgv0;
            else if (c == ':' && !prefix.HasFlag(ExecPrefix.NoEnvExpand)) prefix |= ExecPrefix.NoEnvExpand;
            else if (c == '+' && (prefix & privileged) == 0) prefix |= ExecPrefix.FullyPrivileged;
            else if (c == '!' && (prefix & privileged) == 0) prefix |= ExecPrefix.NoSetuid;
            else if (c == '!' && (prefix & (ExecPrefix.FullyPrivileged | ExecPrefix.AmbientMagic)) == 0)
                prefix = (prefix & ~ExecPrefix.NoSetuid) | ExecPrefix.AmbientMagic;
            else break;
        }
        return (prefix, word[i..]);
    }
}
