using System.Globalization;
using System.Text;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// What happens to a command's plan when it is launched: $MAINPID joins the environment when the
/// unit has a main process, and the arguments are expanded against the final environment, as
/// systemd's replace_env_argv() does (systemd.service(5) "COMMAND LINES"):
///  - a word that is exactly "$NAME" becomes the variable's value split at whitespace (quotes
///    group words and are removed), so an unset or empty variable leaves no word at all;
///  - "${NAME}" is replaced inside a word and never split; unset is empty;
///  - "$$" is one "$"; any other "$" stays as it is.
/// The ":" prefix turns all of this off. The program path (and argv[0] under "@") is not expanded.
/// One difference from systemd 252: a word that starts with "$NAME" and goes on ("$DIR/x") is
/// kept as written, where 252 looks up the variable "DIR/x" and drops the word.
/// </summary>
public static class CommandExpansion
{
    /// <summary>The plan of <paramref name="command"/> ready to start: MAINPID set (when known) and its arguments expanded.</summary>
    public static ExecPlan Prepare(ExecPlan plan, Command command, int? mainPid)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(command);
        var env = plan.Environment;
        if (mainPid is { } pid)
            env = [.. env.Where(e => !e.StartsWith("MAINPID=", StringComparison.Ordinal)), "MAINPID=" + pid.ToString(CultureInfo.InvariantCulture)];
        if (command.Flags.HasFlag(ExecFlags.NoExpansion))
            return plan with { Environment = env };
        var vars = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in env)
        {
            int eq = e.IndexOf('=');
            if (eq > 0) vars[e[..eq]] = e[(eq + 1)..];
        }
        return plan with { Environment = env, Argv = [plan.Argv[0], .. Expand(plan.Argv.Skip(1), vars)] };
    }

    /// <summary>The words after argv[0], expanded (see the class comment).</summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> words, IReadOnlyDictionary<string, string> env)
    {
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(env);
        var result = new List<string>();
        foreach (var word in words)
        {
            if (word.Length > 1 && word[0] == '$' && IsName(word.AsSpan(1)))
                result.AddRange(env.TryGetValue(word[1..], out var value) ? SplitWords(value) : []);
            else
                result.Add(ReplaceInWord(word, env));
        }
        return result;
    }

    private static string ReplaceInWord(string word, IReadOnlyDictionary<string, string> env)
    {
        if (!word.Contains('$')) return word;
        var sb = new StringBuilder(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (word[i] == '$' && i + 1 < word.Length && word[i + 1] == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (word[i] == '$' && i + 1 < word.Length && word[i + 1] == '{' && word.IndexOf('}', i + 2) is var end and > 0
                     && IsName(word.AsSpan(i + 2, end - i - 2)))
            {
                sb.Append(env.GetValueOrDefault(word[(i + 2)..end], ""));
                i = end;
            }
            else sb.Append(word[i]);
        }
        return sb.ToString();
    }

    /// <summary>systemd's split with EXTRACT_UNQUOTE|EXTRACT_RELAX: whitespace separates, '…' and "…" group and are removed, \ escapes.</summary>
    private static List<string> SplitWords(string value)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < value.Length) current.Append(value[++i]);
                else current.Append(c);
            }
            else if (c is ' ' or '\t' or '\n' or '\r')
            {
                if (inWord) words.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
            else
            {
                inWord = true;
                if (c is '"' or '\'') quote = c;
                else if (c == '\\' && i + 1 < value.Length) current.Append(value[++i]);
                else current.Append(c);
            }
        }
        if (inWord) words.Add(current.ToString());
        return words;
    }

    private static bool IsName(ReadOnlySpan<char> s)
    {
        if (s.Length == 0 || char.IsAsciiDigit(s[0])) return false;
        foreach (var c in s)
            if (!char.IsAsciiLetterOrDigit(c) && c != '_') return false;
        return true;
    }
}
