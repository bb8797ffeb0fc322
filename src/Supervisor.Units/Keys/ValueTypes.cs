using Errno = Supervisor.Linux.Errno;
using Signals = Supervisor.Linux.Signals;
using System.Globalization;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;

namespace Supervisor.Units.Keys;

/// <summary>
/// A neutral rendering of a value, written out by both the TOML and the JSON formatter:
/// string, long, bool, List&lt;object&gt; or List&lt;KeyValuePair&lt;string, object&gt;&gt; (a table).
/// </summary>
public static class Plain
{
    public static List<object> List(IEnumerable<object> items) => [.. items];
    public static List<KeyValuePair<string, object>> Table(IEnumerable<KeyValuePair<string, object>> entries) => [.. entries];
}

/// <summary>How one kind of value is read from TOML, written back, and described in the reference.</summary>
public interface IValueType<T>
{
    /// <summary>What the README's reference says the type is, e.g. "size".</summary>
    string Describe { get; }

    T Parse(TomlValue value);

    object ToPlain(T value);
}

/// <summary>The value types of the key table. Every parser throws <see cref="UnitValueException"/> with "expected X, got Y".</summary>
public static partial class ValueTypes
{
    internal static string Show(TomlValue v) => v switch
    {
        TomlString s => $"\"{s.Value}\"",
        TomlInteger i => i.Value.ToString(CultureInfo.InvariantCulture),
        TomlBoolean b => b.Value ? "true" : "false",
        TomlFloat f => f.Value.ToString(CultureInfo.InvariantCulture),
        _ => "a " + v.TypeName,
    };

    internal static UnitValueException Expected(string what, TomlValue got, string? hint = null) =>
        new($"expected {what}, got {Show(got)}", hint);

    internal static string AsString(TomlValue v, string what) =>
        v is TomlString s ? s.Value : throw Expected(what, v);

    internal static IReadOnlyList<TomlValue> AsArray(TomlValue v, string what)
    {
        if (v is not TomlArray a) throw Expected(what, v);
        if (a.Items.Count > Limits.MaxListEntries)
            throw new UnitValueException($"more than {Limits.MaxListEntries} entries");
        return a.Items;
    }

    public static readonly IValueType<string> String = new Simple<string>("string",
        v => AsString(v, "a string"), s => s);

    /// <summary>
    /// true/false, and systemd's spellings written as strings ("yes", "no", "on", "off", "1", "0"),
    /// so a key copied from a systemd unit means what it meant there; shown as true/false.
    /// </summary>
    public static IValueType<bool> Bool => SystemdBool;

    public static IValueType<int> Int(int min, int max) => new Simple<int>($"integer {min}–{max}",
        v => v is TomlInteger i && i.Value >= min && i.Value <= max
            ? (int)i.Value
            : throw Expected($"an integer from {min} to {max}", v),
        i => (long)i);

    public static readonly IValueType<string> AbsolutePath = new Simple<string>("absolute path",
        v => CheckAbsolute(AsString(v, "an absolute path"), v), s => s);

    public static readonly IValueType<OptionalPath> OptionalAbsolutePath = new Simple<OptionalPath>("absolute path (\"-\" prefix: may be missing)",
        v => ParseOptionalPath(AsString(v, "an absolute path"), v), p => p.ToString());

    public static readonly IValueType<ValueList<string>> AbsolutePathList = ListOf(AbsolutePath, "array of absolute paths");
    public static readonly IValueType<ValueList<OptionalPath>> OptionalPathList = ListOf(OptionalAbsolutePath, "array of absolute paths (\"-\" prefix: may be missing)");

    private static string CheckAbsolute(string s, TomlValue v)
    {
        if (s.Length == 0 || s[0] != '/')
            throw Expected("an absolute path starting with \"/\"", v);
        foreach (var part in s.Split('/'))
            if (part == "..")
                throw new UnitValueException($"path \"{s}\" contains \"..\"; write the path it means");
        if (Bytes(s) > Limits.MaxPathBytes)
            throw new UnitValueException($"the path is {Bytes(s)} bytes long; a path is at most {Limits.MaxPathBytes} bytes (PATH_MAX)");
        return s.Length > 1 ? s.TrimEnd('/') : s;
    }

    private static OptionalPath ParseOptionalPath(string s, TomlValue v)
    {
        bool optional = s.StartsWith('-');
        var path = CheckAbsolute(optional ? s[1..] : s, v);
        return new OptionalPath(path, optional);
    }

    public static readonly IValueType<Size> Size = new Simple<Size>("size (K M G T, base 1024) or \"infinity\"",
        v => v switch
        {
            TomlString s => Values.Size.Parse(s.Value),
            TomlInteger i when i.Value >= 0 => Values.Size.FromBytes((ulong)i.Value),
            _ => throw Expected(Values.Size.Expected, v),
        },
        s => s.ToString());

    public static readonly IValueType<Duration> Duration = new Simple<Duration>("duration (e.g. \"250ms\", \"1min 30s\"; a bare number is seconds) or \"infinity\"",
        v => v switch
        {
            TomlString s => Values.Duration.Parse(s.Value),
            TomlInteger i when i.Value >= 0 && i.Value < long.MaxValue / 1_000_000 => Values.Duration.FromSeconds(i.Value),
            _ => throw Expected(Values.Duration.Expected, v),
        },
        d => d.ToString());

    public static IValueType<Percent> PercentIn(long minHundredths, long maxHundredths) => new Simple<Percent>("percentage (e.g. \"50%\")",
        v =>
        {
            var p = Percent.Parse(AsString(v, Percent.Expected));
            if (p.Hundredths < minHundredths || p.Hundredths > maxHundredths)
                throw new UnitValueException($"expected a percentage from {new Percent(minHundredths)} to {new Percent(maxHundredths)}, got \"{p}\"");
            return p;
        },
        p => p.ToString());

    public static readonly IValueType<int> Signal = new Simple<int>("signal name (e.g. \"SIGTERM\")",
        v => SignalValue.Parse(AsString(v, SignalValue.Expected)), n => Signals.Name(n));

    public static IValueType<TEnum> Enum<TEnum>(params (string Name, TEnum Value)[] names) where TEnum : struct, System.Enum =>
        new Simple<TEnum>(string.Join(" | ", names.Select(n => $"\"{n.Name}\"")),
            v =>
            {
                var s = AsString(v, "one of " + string.Join(", ", names.Select(n => $"\"{n.Name}\"")));
                foreach (var (name, value) in names)
                    if (name == s) return value;
                throw new UnitValueException(
                    $"expected one of {string.Join(", ", names.Select(n => $"\"{n.Name}\""))}, got \"{s}\"",
                    Suggest.Hint(s, names.Select(n => n.Name)));
            },
            e => names.First(n => EqualityComparer<TEnum>.Default.Equals(n.Value, e)).Name);

    /// <summary>ProtectSystem and ProtectHome: true/false or a named mode, as in systemd.</summary>
    public static IValueType<TEnum> BoolOrEnum<TEnum>(TEnum no, TEnum yes, params (string Name, TEnum Value)[] names) where TEnum : struct, System.Enum
    {
        var named = Enum(names);
        return new Simple<TEnum>("true | false | " + named.Describe,
            v => v switch
            {
                TomlBoolean b => b.Value ? yes : no,
                TomlString s when SystemdBoolWord(s.Value) is { } word && !names.Any(n => n.Name == s.Value) => word ? yes : no,
                TomlString => named.Parse(v),
                _ => throw Expected("true, false or " + named.Describe, v),
            },
            e => EqualityComparer<TEnum>.Default.Equals(e, no) ? false
                : EqualityComparer<TEnum>.Default.Equals(e, yes) ? true
                : named.ToPlain(e));
    }

    public static IValueType<ValueList<T>> ListOf<T>(IValueType<T> item, string describe) => new Simple<ValueList<T>>(describe,
        v => new ValueList<T>(AsArray(v, "an array").Select(item.Parse)),
        list => Plain.List(list.Select(x => item.ToPlain(x))));

    /// <summary>A unit name as written in [Unit] dependencies: a service "db" or a slice "web.slice".</summary>
    public static readonly IValueType<string> UnitName = new Simple<string>("unit name (\"NAME\" or systemd's \"NAME.service\")",
        v =>
        {
            var s = AsString(v, "a unit name");
            // "redis.service" is how systemd names the service unit Supervisor calls "redis".
            if (s.EndsWith(".service", StringComparison.Ordinal) && s.Length > ".service".Length) s = s[..^".service".Length];
            if (!UnitNames.IsValid(s))
                throw new UnitValueException($"invalid unit name \"{s}\": {UnitNames.Rule}");
            return s;
        }, s => s);

    public static readonly IValueType<ValueList<string>> UnitNameList = ListOf(UnitName, "array of unit names (\"NAME\" or systemd's \"NAME.service\")");

    public static readonly IValueType<ValueList<string>> StringList = ListOf(String, "array of strings");

    public static readonly IValueType<string> SliceName = new Simple<string>("slice name (\"web\" or \"web.slice\")",
        v =>
        {
            var s = AsString(v, "a slice name");
            var name = s.EndsWith(".slice", StringComparison.Ordinal) ? s : s + ".slice";
            if (!UnitNames.IsValid(name) || name == ".slice")
                throw new UnitValueException($"invalid slice name \"{s}\": {UnitNames.Rule}");
            return name;
        }, s => s[..^".slice".Length]);

    public static readonly IValueType<Command> Command = new Simple<Command>("command (argv array, no shell)",
        v => ParseCommand(v), c => PlainCommand(c));

    public static readonly IValueType<ValueList<Command>> CommandList = new Simple<ValueList<Command>>("array of commands",
        v =>
        {
            var items = AsArray(v, "an array of commands, e.g. [[\"/bin/mkdir\", \"-p\", \"/run/x\"]]");
            return new ValueList<Command>(items.Select(ParseCommand));
        },
        list => Plain.List(list.Select(PlainCommand)));

    private static Command ParseCommand(TomlValue v)
    {
        const string what = "a command as an array of strings, e.g. [\"/usr/bin/python3\", \"-m\", \"http.server\"]";
        var items = AsArray(v, what);
        if (items.Count == 0) throw new UnitValueException($"expected {what}, got an empty array");
        if (items.Count > Limits.MaxArguments) throw new UnitValueException($"more than {Limits.MaxArguments} arguments");
        var argv = items.Select(i => i is TomlString s ? s.Value : throw Expected("every argument to be a string", i)).ToArray();
        CheckExecStrings(argv, i => $"argument {i + 1}", Limits.MaxCommandBytes, "the arguments");
        var (ignore, separateArgv0, flags, program) = ParseExecPrefix(argv[0]);
        if (program.Length == 0)
            throw new UnitValueException($"the program name is empty{(argv[0].Length > 0 ? $" after the prefixes \"{argv[0]}\"" : "")}");
        if (program.Contains('/') && !program.StartsWith('/'))
            throw new UnitValueException($"program \"{program}\" is a relative path; use an absolute path or a bare name looked up in PATH");
        foreach (var a in argv)
            if (a.Contains('\0')) throw new UnitValueException("an argument contains a NUL character");
        if (!separateArgv0)
        {
            argv[0] = program;
            return new Command(new ValueList<string>(argv), ignore) { Flags = flags };
        }
        // "@": the second word is argv[0], the first the program (systemd.service(5)).
        if (argv.Length < 2)
            throw new UnitValueException($"\"{argv[0]}\": with the prefix \"@\" the second element is argv[0], and there is none");
        return new Command(new ValueList<string>(argv[1..]), ignore) { Flags = flags, Executable = program };
    }

    /// <summary>
    /// What execve takes: each string at most MAX_ARG_STRLEN (E2BIG beyond it), and all of them
    /// within the share of the exec plan a command or the environment may use.
    /// </summary>
    private static void CheckExecStrings(string[] strings, Func<int, string> name, int maxTotal, string all)
    {
        long total = 0;
        for (int i = 0; i < strings.Length; i++)
        {
            int n = Bytes(strings[i]);
            if (n > Limits.MaxArgumentBytes)
                throw new UnitValueException($"{name(i)} is {n} bytes; the kernel passes at most {Limits.MaxArgumentBytes} bytes in one argument or variable");
            total += n + 1;
        }
        if (total > maxTotal)
            throw new UnitValueException($"{all} take {total} bytes; at most {maxTotal} bytes fit in a service's exec plan");
    }

    internal static int Bytes(string s) => System.Text.Encoding.UTF8.GetByteCount(s);

    private static object PlainCommand(Command c) =>
        Plain.List(c.Executable is { } program
            ? c.Argv.Prepend(FormatExecPrefix(c) + program)
            : c.Argv.Select((a, i) => (object)(i == 0 ? FormatExecPrefix(c) + a : a)));

    public static readonly IValueType<ValueList<KeyValuePair<string, string>>> Environment = new Simple<ValueList<KeyValuePair<string, string>>>(
        "table of NAME = \"value\"",
        v =>
        {
            if (v is not TomlTable t) throw Expected("a table like { LANG = \"C.UTF-8\" }", v);
            var result = new List<KeyValuePair<string, string>>();
            foreach (var e in t.Entries)
            {
                if (!IsEnvName(e.Key))
                    throw new UnitValueException($"invalid environment variable name \"{e.Key}\": letters, digits and _ only, not starting with a digit");
                if (e.Value is not TomlString s) throw Expected($"a string value for {e.Key}", e.Value);
                if (s.Value.Contains('\0')) throw new UnitValueException($"value of {e.Key} contains a NUL character");
                result.Add(new(e.Key, s.Value));
            }
            if (result.Count > Limits.MaxEnvironmentEntries)
                throw new UnitValueException($"{result.Count} variables; a service's environment holds {Limits.PlanMaxEnv}, and " +
                    $"{Limits.SupervisorEnvironmentReserve} of them are kept for the variables the supervisor sets, so at most {Limits.MaxEnvironmentEntries}");
            CheckExecStrings([.. result.Select(kv => $"{kv.Key}={kv.Value}")], i => result[i].Key, Limits.MaxEnvironmentBytes, "the variables");
            return new ValueList<KeyValuePair<string, string>>(result);
        },
        env => Plain.Table(env.Select(kv => new KeyValuePair<string, object>(kv.Key, kv.Value))));

    private static bool IsEnvName(string s) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0]) && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    public static readonly IValueType<ExitStatusSet> ExitStatuses = new Simple<ExitStatusSet>("array of exit codes (0–255), systemd's exit status names (\"DATAERR\") and signal names",
        v =>
        {
            var codes = new List<int>();
            var signals = new List<int>();
            foreach (var item in AsArray(v, "an array of exit codes and signal names, e.g. [75, \"SIGUSR1\"]"))
            {
                switch (item)
                {
                    case TomlInteger i when i.Value is >= 0 and <= 255: codes.Add((int)i.Value); break;
                    // systemd reads a name from its exit status table first, then a signal name.
                    case TomlString s when ExitStatusNames.ByName.TryGetValue(s.Value, out var named): codes.Add(named); break;
                    case TomlString s when Signals.TryParse(s.Value, out var signal): signals.Add(signal); break;
                    case TomlString s:
                        throw new UnitValueException($"expected an exit code, an exit status name like \"DATAERR\" or a signal name, got \"{s.Value}\"",
                            Suggest.Hint(s.Value.Trim().ToUpperInvariant(), [.. ExitStatusNames.ByName.Keys, .. Signals.AllNames]));
                    default: throw Expected("an exit code from 0 to 255, an exit status name or a signal name", item);
                }
            }
            return new ExitStatusSet(new ValueList<int>(codes), new ValueList<int>(signals));
        },
        // Codes systemd names are written by name ("DATAERR" reads better than 65, and parses back the same).
        e => Plain.List(e.Codes.Select(c => ExitStatusNames.NameOf(c) is { } name ? (object)name : (long)c).Concat(e.Signals.Select(s => (object)Signals.Name(s)))));

    public static readonly IValueType<CapabilitySet> CapabilitySet = new Simple<CapabilitySet>("array of capabilities (\"~\" on the first: drop these, keep the rest)",
        v =>
        {
            var items = AsArray(v, "an array of capability names like [\"CAP_NET_BIND_SERVICE\"]");
            bool invert = false;
            var caps = new List<int>();
            for (int i = 0; i < items.Count; i++)
            {
                var s = AsString(items[i], "a capability name");
                if (s.StartsWith('~'))
                {
                    if (i != 0) throw new UnitValueException("\"~\" (drop list) is only allowed on the first entry");
                    invert = true;
                    s = s[1..];
                }
                caps.Add(Capabilities.Parse(s));
            }
            return new CapabilitySet(new ValueList<int>(caps), invert);
        },
        c => Plain.List(c.Capabilities.Select((n, i) => (object)((i == 0 && c.Invert ? "~" : "") + Capabilities.Name(n)))));

    public static readonly IValueType<ValueList<int>> CapabilityList = new Simple<ValueList<int>>("array of capabilities",
        v => new ValueList<int>(AsArray(v, "an array of capability names").Select(i => Capabilities.Parse(AsString(i, "a capability name")))),
        l => Plain.List(l.Select(n => (object)Capabilities.Name(n))));

    public static readonly IValueType<SyscallFilter> SyscallFilter = new Simple<SyscallFilter>("array of system calls and @groups (\"~\": deny)",
        v =>
        {
            var items = AsArray(v, "an array like [\"@system-service\", \"~@privileged\"]");
            if (items.Count == 0) throw new UnitValueException("expected at least one system call or @group");
            var entries = new List<SyscallFilterEntry>();
            foreach (var item in items)
            {
                var s = AsString(item, "a system call name or @group").Trim();
                bool neg = s.StartsWith('~');
                if (neg) s = s[1..];
                var words = s.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (words.Length == 0) throw new UnitValueException("empty entry");
                foreach (var w in words) SyscallTable.Validate(w);
                entries.Add(new SyscallFilterEntry(neg, new ValueList<string>(words)));
            }
            return new SyscallFilter(!entries[0].Negated, new ValueList<SyscallFilterEntry>(entries));
        },
        f => Plain.List(f.Entries.Select(e => (object)e.ToString())));

    public static readonly IValueType<ValueList<string>> SyscallList = new Simple<ValueList<string>>("array of system calls and @groups",
        v => new ValueList<string>(AsArray(v, "an array of system call names").Select(i =>
        {
            var s = AsString(i, "a system call name or @group").Trim();
            SyscallTable.Validate(s);
            return s;
        })),
        l => Plain.List(l.Select(s => (object)s)));

    /// <summary>SystemCallErrorNumber: an errno name, or "kill" (the default: the process is killed).</summary>
    public static readonly IValueType<int?> ErrnoOrKill = new Simple<int?>("errno name (e.g. \"EPERM\") or \"kill\"",
        v =>
        {
            var s = AsString(v, "an errno name like \"EPERM\" or \"kill\"");
            if (s == "kill") return null;
            return Errno.TryParse(s, out int number) ? number
                : throw new UnitValueException($"expected an errno name like \"EPERM\", got \"{s}\"", Suggest.Hint(s.Trim().ToUpperInvariant(), Errno.Names));
        },
        e => e is null ? "kill" : Errno.Name(e.Value));

    public static readonly IValueType<OptionalLabel> Lsm = new Simple<OptionalLabel>("string (\"-\" prefix: skip when the LSM is off)",
        v =>
        {
            var s = AsString(v, "a profile or context name");
            bool optional = s.StartsWith('-');
            var value = optional ? s[1..] : s;
            if (value.Length == 0 || value.Any(c => char.IsControl(c) || c == ' '))
                throw new UnitValueException($"invalid label \"{s}\": must be non-empty, without spaces or control characters");
            if (Bytes(value) > Limits.MaxLabelBytes)
                throw new UnitValueException($"the label is {Bytes(value)} bytes long; at most {Limits.MaxLabelBytes}");
            return new OptionalLabel(value, optional);
        },
        l => l.ToString());

    public static readonly IValueType<string> Hostname = new Simple<string>("hostname",
        v =>
        {
            var s = AsString(v, "a hostname");
            if (s.Length == 0 || s.Length > Limits.MaxHostnameLength || s.StartsWith('-') || s.StartsWith('.')
                || !s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
                throw new UnitValueException($"invalid hostname \"{s}\": letters, digits, '-' and '.', at most {Limits.MaxHostnameLength} characters");
            return s;
        }, s => s);

    public static readonly IValueType<string> CpuSet = new Simple<string>("CPU/node list (e.g. \"0-3,6\")",
        v =>
        {
            var s = AsString(v, "a list like \"0-3,6\"").Replace(" ", "");
            foreach (var part in s.Split(','))
            {
                var range = part.Split('-');
                if (range.Length is < 1 or > 2 || range.Any(r => r.Length == 0 || r.Length > 5 || !r.All(char.IsAsciiDigit))
                    || (range.Length == 2 && int.Parse(range[0], CultureInfo.InvariantCulture) > int.Parse(range[1], CultureInfo.InvariantCulture)))
                    throw new UnitValueException($"expected a list like \"0-3,6\", got \"{s}\"");
            }
            return s;
        }, s => s);

    public static readonly IValueType<TaskCount> TaskCount = new Simple<TaskCount>("integer or \"infinity\"",
        v => v switch
        {
            TomlInteger i when i.Value >= 1 => new TaskCount((ulong)i.Value),
            TomlString { Value: "infinity" } => Model.TaskCount.Infinity,
            _ => throw Expected("a positive integer or \"infinity\"", v),
        },
        t => t.IsInfinity ? "infinity" : (long)t.Value);

    public static IValueType<ValueList<DeviceLimit>> DeviceLimits(bool bytes) => new Simple<ValueList<DeviceLimit>>(
        bytes ? "table of device path = size per second" : "table of device path = operations per second",
        v =>
        {
            if (v is not TomlTable t) throw Expected("a table like { \"/dev/sda\" = \"10M\" }", v);
            var result = new List<DeviceLimit>();
            foreach (var e in t.Entries)
            {
                if (!e.Key.StartsWith("/dev/", StringComparison.Ordinal))
                    throw new UnitValueException($"expected a block device path under /dev, got \"{e.Key}\"");
                ulong value = bytes
                    ? Size.Parse(e.Value) is { IsInfinity: false } size ? size.Bytes : throw new UnitValueException("a bandwidth limit cannot be infinity; remove the entry instead")
                    : e.Value is TomlInteger i && i.Value > 0 ? (ulong)i.Value : throw Expected("a positive integer", e.Value);
                result.Add(new DeviceLimit(e.Key, value));
            }
            return new ValueList<DeviceLimit>(result);
        },
        l => Plain.Table(l.Select(d => new KeyValuePair<string, object>(d.Device,
            bytes ? Values.Size.FromBytes(d.Value).ToString() : (object)(long)d.Value))));

    public static IValueType<RLimit> RLimit(bool bytes) => new Simple<RLimit>(
        bytes ? "size, \"infinity\", or \"soft:hard\"" : "integer, \"infinity\", or \"soft:hard\"",
        v =>
        {
            ulong One(string s) => s == "infinity" ? Model.RLimit.Infinity
                : bytes ? Values.Size.Parse(s).Bytes
                : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
                : throw new UnitValueException($"expected an integer or \"infinity\", got \"{s}\"");
            switch (v)
            {
                case TomlInteger i when i.Value >= 0: return new RLimit((ulong)i.Value, (ulong)i.Value);
                case TomlString s:
                    var parts = s.Value.Split(':');
                    if (parts.Length > 2) throw new UnitValueException($"expected \"soft:hard\", got \"{s.Value}\"");
                    var soft = One(parts[0]);
                    var hard = parts.Length == 2 ? One(parts[1]) : soft;
                    if (soft > hard) throw new UnitValueException($"soft limit {parts[0]} is above hard limit {parts[1]}");
                    return new RLimit(soft, hard);
                default: throw Expected("an integer, \"infinity\" or \"soft:hard\"", v);
            }
        },
        r =>
        {
            string One(ulong n) => n == Model.RLimit.Infinity ? "infinity" : bytes ? Values.Size.FromBytes(n).ToString() : n.ToString(CultureInfo.InvariantCulture);
            return r.Soft == r.Hard ? One(r.Soft) : $"{One(r.Soft)}:{One(r.Hard)}";
        });

    /// <summary>The kernel's kinds (Supervisor.Linux.NamespaceKind), with the model's flag: bit i is kind i.</summary>
    public static readonly (string Name, Namespaces Flag)[] NamespaceNames =
        [.. Supervisor.Linux.NamespaceKind.All.Select((k, i) => (k.Name, (Namespaces)(1 << i)))];

    public static readonly IValueType<Namespaces> Namespaces = new Simple<Namespaces>("array of \"pid\" \"net\" \"mount\" \"ipc\" \"uts\" \"user\" \"cgroup\" \"time\"",
        v =>
        {
            var result = Model.Namespaces.None;
            foreach (var item in AsArray(v, "an array like [\"pid\", \"net\"]"))
            {
                var s = AsString(item, "a namespace name");
                var ns = NamespaceNames.FirstOrDefault(n => n.Name == s);
                if (ns.Name is null)
                    throw new UnitValueException($"unknown namespace \"{s}\"; expected one of {string.Join(", ", NamespaceNames.Select(n => n.Name))}",
                        Suggest.Hint(s, NamespaceNames.Select(n => n.Name)));
                result |= ns.Flag;
            }
            return result;
        },
        ns => Plain.List(NamespaceNames.Where(n => ns.HasFlag(n.Flag)).Select(n => (object)n.Name)));


    public static readonly IValueType<ValueList<SecureBit>> SecureBits = ListOf(Enum(
        ("keep-caps", SecureBit.KeepCaps), ("keep-caps-locked", SecureBit.KeepCapsLocked),
        ("no-setuid-fixup", SecureBit.NoSetuidFixup), ("no-setuid-fixup-locked", SecureBit.NoSetuidFixupLocked),
        ("noroot", SecureBit.Noroot), ("noroot-locked", SecureBit.NorootLocked)), "array of securebit names");

    public static readonly IValueType<ValueList<SyscallArchitecture>> Architectures = ListOf(Enum(
        ("native", SyscallArchitecture.Native), ("x86-64", SyscallArchitecture.X86_64), ("x86", SyscallArchitecture.X86),
        ("x32", SyscallArchitecture.X32), ("arm64", SyscallArchitecture.Aarch64), ("arm", SyscallArchitecture.Arm)), "array of architectures (\"native\", …)");

    public static readonly IValueType<ValueList<BindPath>> BindList = new Simple<ValueList<BindPath>>("array of \"source[:destination[:norbind]]\"",
        v => new ValueList<BindPath>(AsArray(v, "an array like [\"/srv/data:/data\"]").Select(item =>
        {
            var s = AsString(item, "\"source[:destination[:options]]\"");
            bool optional = s.StartsWith('-');
            if (optional) s = s[1..];
            var parts = s.Split(':');
            if (parts.Length > 3) throw new UnitValueException($"expected \"source[:destination[:options]]\", got \"{s}\"");
            var src = CheckAbsolute(parts[0], item);
            var dst = parts.Length >= 2 && parts[1].Length > 0 ? CheckAbsolute(parts[1], item) : src;
            bool recursive = true;
            if (parts.Length == 3)
            {
                recursive = parts[2] switch
                {
                    "rbind" => true,
                    "norbind" => false,
                    _ => throw new UnitValueException($"unknown bind option \"{parts[2]}\"; expected \"rbind\" or \"norbind\""),
                };
            }
            return new BindPath(src, dst, optional, recursive);
        })),
        l => Plain.List(l.Select(b => (object)b.ToString())));

    private sealed class Simple<T>(string describe, Func<TomlValue, T> parse, Func<T, object> toPlain) : IValueType<T>
    {
        public string Describe => describe;
        public T Parse(TomlValue value) => parse(value);
        public object ToPlain(T value) => toPlain(value);
    }
}

/// <summary>Unit names: the file name without ".toml", characters [A-Za-z0-9:_.@-].</summary>
public static class UnitNames
{
    public const string Rule = "only letters, digits and : _ . @ - are allowed (and \\ in a template's instance, as systemd-escape writes it), at most 255 characters";

    public static bool IsValid(string name) =>
        name.Length > 0 && name.Length <= Limits.MaxUnitNameLength && name != "." && name != ".."
        && name.Select((c, i) => char.IsAsciiLetterOrDigit(c) || c is ':' or '_' or '.' or '@' or '-'
            || (c == '\\' && name.IndexOf('@', StringComparison.Ordinal) is >= 0 and var at && at < i)).All(ok => ok);
}
