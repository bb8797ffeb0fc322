using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units.Keys;

/// <summary>The prefixes of Exec* lines and the ExecStart value (one command, or several for Type=oneshot).</summary>
public static partial class ValueTypes
{
    /// <summary>
    /// systemd's config_parse_exec: "-", "@", ":", "+", "!" and "!!" in any order, each once; "+"
    /// and "!"/"!!" exclude each other. What follows the prefixes is the program. Returns the
    /// prefixes read and the program.
    /// </summary>
    public static (bool IgnoreFailure, bool SeparateArgv0, ExecFlags Flags, string Program) ParseExecPrefix(string word)
    {
        bool ignore = false, argv0 = false;
        var flags = ExecFlags.None;
        int i = 0;
        const ExecFlags privilege = ExecFlags.FullPrivileges | ExecFlags.NoUserChange | ExecFlags.NoUserChangeWithoutAmbient;
        for (; i < word.Length; i++)
        {
            char c = word[i];
            if (c == '-' && !ignore) ignore = true;
            else if (c == '@' && !argv0) argv0 = true;
            else if (c == ':' && !flags.HasFlag(ExecFlags.NoExpansion)) flags |= ExecFlags.NoExpansion;
            else if (c == '+' && (flags & privilege) == 0) flags |= ExecFlags.FullPrivileges;
            else if (c == '!' && i + 1 < word.Length && word[i + 1] == '!' && (flags & privilege) == 0) { flags |= ExecFlags.NoUserChangeWithoutAmbient; i++; }
            else if (c == '!' && (flags & privilege) == 0) flags |= ExecFlags.NoUserChange;
            else if (c is '-' or '@' or ':' or '+' or '!')
                throw new UnitValueException(c is '+' or '!' && (flags & privilege) != 0
                    ? $"\"{word}\": the prefixes \"+\" (full privileges) and \"!\"/\"!!\" (no user change) exclude each other, and each is allowed once"
                    : $"\"{word}\": the prefix \"{c}\" is repeated");
            else break;
        }
        return (ignore, argv0, flags, word[i..]);
    }

    /// <summary>The prefixes of a command, in one fixed order, as show and the TOML formatter write them.</summary>
    public static string FormatExecPrefix(Command c)
    {
        var s = new System.Text.StringBuilder();
        if (c.IgnoreFailure) s.Append('-');
        if (c.Executable is not null) s.Append('@');
        if (c.Flags.HasFlag(ExecFlags.NoExpansion)) s.Append(':');
        if (c.Flags.HasFlag(ExecFlags.FullPrivileges)) s.Append('+');
        if (c.Flags.HasFlag(ExecFlags.NoUserChange)) s.Append('!');
        if (c.Flags.HasFlag(ExecFlags.NoUserChangeWithoutAmbient)) s.Append("!!");
        return s.ToString();
    }

    /// <summary>
    /// ExecStart: one command (<c>["/bin/x", "a"]</c>), or, for Type=oneshot, several as an array of
    /// commands (<c>[["/bin/a"], ["/bin/b"]]</c>, the form of ExecStartPre), run in order.
    /// </summary>
    public static readonly IValueType<ValueList<Command>> ExecStartLines = new Simple<ValueList<Command>>(
        "command (argv array, no shell), or an array of commands (Type=oneshot)",
        v =>
        {
            var items = AsArray(v, "a command as an array of strings, e.g. [\"/usr/bin/python3\", \"-m\", \"http.server\"], or (Type=oneshot) an array of commands");
            if (items.Count > 0 && items[0] is TomlArray)
            {
                if (items.Count > Limits.MaxArguments) throw new UnitValueException($"more than {Limits.MaxArguments} commands");
                return new ValueList<Command>(items.Select(ParseCommand));
            }
            return [ParseCommand(v)];
        },
        list => list.Count == 1 ? PlainCommand(list[0]) : Plain.List(list.Select(PlainCommand)));
}
