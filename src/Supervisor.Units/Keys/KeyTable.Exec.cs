using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Service] keys of the service's environment beyond Environment and EnvironmentFile (systemd.exec(5) "ENVIRONMENT").</summary>
    private static IEnumerable<KeySpec> ExecKeys() =>
    [
        S("UnsetEnvironment", Restart, EnvNameList(allowAssignment: true), s => s.UnsetEnvironment, (s, v) => s with { UnsetEnvironment = v }, "[]",
            "variables taken out of the environment last, after Environment, EnvironmentFile and PassEnvironment: a name removes the variable, " +
            "\"NAME=VALUE\" removes it only while it has that value (systemd's rule); it applies to the variables the supervisor sets ($USER, $NOTIFY_SOCKET …) " +
            "too, except $MAINPID and $WATCHDOG_USEC, which are added when the process starts", MergeRule.List),
        S("PassEnvironment", Restart, EnvNameList(allowAssignment: false), s => s.PassEnvironment, (s, v) => s with { PassEnvironment = v }, "[]",
            "names of the supervisor's own environment variables the service gets (one that is not set is skipped); Environment and EnvironmentFile override them", MergeRule.List),
    ];

    /// <summary>An array of variable names (and, for UnsetEnvironment, NAME=VALUE assignments).</summary>
    private static IValueType<ValueList<string>> EnvNameList(bool allowAssignment) => new EnvNames(allowAssignment);

    private sealed class EnvNames(bool allowAssignment) : IValueType<ValueList<string>>
    {
        public string Describe => allowAssignment ? "array of variable names or NAME=VALUE" : "array of variable names";

        public ValueList<string> Parse(TomlValue value)
        {
            var items = V.AsArray(value, allowAssignment ? "an array like [\"LANG\", \"TERM=dumb\"]" : "an array of variable names like [\"TERM\", \"LANG\"]");
            if (items.Count > Limits.MaxEnvironmentEntries)
                throw new UnitValueException($"{items.Count} entries; at most {Limits.MaxEnvironmentEntries}");
            var result = new List<string>();
            foreach (var item in items)
            {
                var s = V.AsString(item, "a variable name");
                int eq = s.IndexOf('=');
                var name = eq < 0 ? s : s[..eq];
                if (eq >= 0 && !allowAssignment)
                    throw new UnitValueException($"\"{s}\": expected a variable name, not an assignment");
                if (!IsEnvironmentName(name) || s.Contains('\0'))
                    throw new UnitValueException($"invalid environment variable name \"{name}\": letters, digits and _ only, not starting with a digit");
                result.Add(s);
            }
            return new ValueList<string>(result);
        }

        public object ToPlain(ValueList<string> value) => Plain.List(value);
    }

    private static bool IsEnvironmentName(string s) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0]) && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>Rules between the command lines and the rest of the unit, called from the parser's consistency check.</summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> ExecConsistency(UnitDefinition unit)
    {
        var s = unit.Service;
        if (s.ExecStartMore.Count > 0 && s.Type != ServiceType.Oneshot)
            yield return (ServiceSection, "ExecStart", $"[Service] ExecStart: {s.ExecStartMore.Count + 1} commands, but only Type = \"oneshot\" runs several " +
                "(systemd refuses them too); a service of any other type has exactly one main command", true,
                "use Type = \"oneshot\", or move the others to ExecStartPre or ExecStartPost");
    }
}
