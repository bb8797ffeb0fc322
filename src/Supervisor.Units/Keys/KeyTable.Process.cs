using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Service] keys for the process's own attributes (scheduling, I/O priority, OOM score,
    /// SIGPIPE) and its standard input and output (systemd.exec(5) "SCHEDULING" and "LOGGING
    /// AND STANDARD INPUT/OUTPUT"). All are set up before execve, so a change needs a new process.
    /// </summary>
    private static IEnumerable<KeySpec> ProcessKeys()
    {
        var policy = V.Enum(("other", CpuSchedulingPolicy.Other), ("batch", CpuSchedulingPolicy.Batch), ("idle", CpuSchedulingPolicy.Idle),
            ("fifo", CpuSchedulingPolicy.Fifo), ("rr", CpuSchedulingPolicy.RR));
        return
        [
            S("Nice", Restart, new NullableStruct<int>(V.Int(-20, 19)), s => s.Nice, (s, v) => s with { Nice = v }, "inherited (0)",
                "the nice level, -20 (most favourable) to 19 (least), set with setpriority() before execve"),
            S("CPUSchedulingPolicy", Restart, new NullableStruct<CpuSchedulingPolicy>(policy), s => s.CPUSchedulingPolicy, (s, v) => s with { CPUSchedulingPolicy = v }, "\"other\"",
                "the CPU scheduling policy: other, batch, idle, or the real-time fifo and rr (which fail with EPERM in a cgroup v1 cpu controller whose cpu.rt_runtime_us is 0, as the unit's own cgroup is)"),
            S("CPUSchedulingPriority", Restart, new NullableStruct<int>(V.Int(0, 99)), s => s.CPUSchedulingPriority, (s, v) => s with { CPUSchedulingPriority = v }, "1 for fifo/rr, else 0",
                "the real-time priority: 1–99 for fifo and rr; other, batch and idle take only 0"),
            S("CPUSchedulingResetOnFork", Restart, V.Bool, s => s.CPUSchedulingResetOnFork, (s, v) => s with { CPUSchedulingResetOnFork = v }, "false",
                "children of the service start with the default policy and a non-negative nice (SCHED_RESET_ON_FORK)"),
            S("IOSchedulingClass", Restart, new NullableStruct<IoSchedulingClass>(IoClassValue.Instance), s => s.IOSchedulingClass, (s, v) => s with { IOSchedulingClass = v }, "\"best-effort\" (from nice)",
                "the I/O scheduling class: \"realtime\", \"best-effort\", \"idle\", or 0–3 (0, \"none\": best-effort), set with ioprio_set() before execve"),
            S("IOSchedulingPriority", Restart, new NullableStruct<int>(V.Int(0, 7)), s => s.IOSchedulingPriority, (s, v) => s with { IOSchedulingPriority = v }, "4",
                "the priority within the I/O class, 0 (highest) to 7 (lowest); the idle class has none"),
            S("OOMScoreAdjust", Restart, new NullableStruct<int>(V.Int(-1000, 1000)), s => s.OOMScoreAdjust, (s, v) => s with { OOMScoreAdjust = v }, "inherited (0)",
                "/proc/PID/oom_score_adj, -1000 (never killed) to 1000 (killed first); as in systemd a value the kernel refuses for lack of privilege " +
                "(lowering it needs CAP_SYS_RESOURCE) is skipped, and inspect shows it as unavailable"),
            S("IgnoreSIGPIPE", Restart, V.Bool, s => s.IgnoreSIGPIPE, (s, v) => s with { IgnoreSIGPIPE = v }, "true",
                "the service starts with SIGPIPE ignored (a write to a closed pipe fails with EPIPE); false leaves it at the default, which kills the process"),
            S("StandardInput", Restart, StdInputValue.Instance, s => s.StandardInput, (s, v) => s with { StandardInput = v }, "\"null\"",
                "fd 0: \"null\", \"tty\", \"tty-force\", \"tty-fail\" (TTYPath), \"file:PATH\" (read-only), \"data\" (StandardInputText/StandardInputData), " +
                "\"socket\" (the connection of an Accept=yes socket unit, inetd style: only in a template NAME@.toml; StandardOutput then defaults to the socket too); \"fd:NAME\" is refused"),
            S("StandardInputText", Restart, new Nullable<string>(V.String), s => s.StandardInputText, (s, v) => s with { StandardInputText = v }, "not set",
                "text the service reads on stdin with StandardInput=\"data\" (the importer joins systemd's lines, each ending in a newline)"),
            S("StandardInputData", Restart, new Nullable<string>(Base64Value.Instance), s => s.StandardInputData, (s, v) => s with { StandardInputData = v }, "not set",
                "base64 of bytes the service reads on stdin with StandardInput=\"data\", after StandardInputText"),
            S("StandardOutput", Restart, StdOutputValue.Stdout, s => s.StandardOutput, (s, v) => s with { StandardOutput = v }, "\"journal\"",
                "fd 1: \"journal\", \"syslog\", \"kmsg\" and their \"+console\" forms all mean the unit's log (no console copy is made); \"inherit\" (stdin's terminal, else /dev/null), " +
                "\"null\", \"tty\", \"file:PATH\" (written from the start, not truncated), \"append:PATH\", \"truncate:PATH\"; files are opened by the supervisor on the host, " +
                "before the sandbox, created 0666 minus UMask as root; \"socket\" (the connection of an Accept=yes socket unit, the default when StandardInput is \"socket\"); \"fd:NAME\" is refused"),
            S("StandardError", Restart, StdOutputValue.Stderr, s => s.StandardError, (s, v) => s with { StandardError = v }, "\"inherit\"",
                "fd 2, as StandardOutput; \"inherit\" (the default) goes wherever stdout goes"),
            S("SyslogIdentifier", Restart, new Nullable<string>(V.String), s => s.SyslogIdentifier, (s, v) => s with { SyslogIdentifier = v }, "the program's file name",
                "the name the unit's log lines carry before the stream (\"redis stdout: …\")"),
            S("SyslogFacility", Restart, SyslogWord("facility", SyslogFacilities), s => s.SyslogFacility, (s, v) => s with { SyslogFacility = v }, "\"daemon\"",
                "syslog facility; accepted for systemd units, the unit's log does not record it"),
            S("SyslogLevel", Restart, SyslogWord("level", SyslogLevels), s => s.SyslogLevel, (s, v) => s with { SyslogLevel = v }, "\"info\"",
                "syslog level of lines without a prefix; accepted for systemd units, the unit's log does not record it"),
            S("SyslogLevelPrefix", Restart, V.Bool, s => s.SyslogLevelPrefix, (s, v) => s with { SyslogLevelPrefix = v }, "true",
                "a \"<N>\" kernel-style level prefix (0–7) at the start of a log line is taken off, as systemd does"),
            S("TTYPath", Restart, V.AbsolutePath, s => s.TTYPath, (s, v) => s with { TTYPath = v }, "\"/dev/console\"",
                "the terminal the tty modes of StandardInput, StandardOutput and StandardError open"),
            S("TTYReset", Restart, V.Bool, s => s.TTYReset, (s, v) => s with { TTYReset = v }, "false",
                "accepted; not carried out yet (systemd resets the terminal before and after the service)"),
            S("TTYVHangup", Restart, V.Bool, s => s.TTYVHangup, (s, v) => s with { TTYVHangup = v }, "false",
                "accepted; not carried out yet (systemd hangs up earlier users of TTYPath first)"),
            S("TTYVTDisallocate", Restart, V.Bool, s => s.TTYVTDisallocate, (s, v) => s with { TTYVTDisallocate = v }, "false",
                "accepted; not carried out yet (systemd clears a virtual console and its scrollback)"),
        ];
    }

    // Properties, not fields: KeyTable.All is built while the static fields initialise, in an
    // order across the partial files that C# does not define.
    private static string[] SyslogFacilities =>
        ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
         "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];

    private static string[] SyslogLevels => ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

    private static IValueType<string> SyslogWord(string what, string[] names) => new SyslogWordValue(what, names);

    private sealed class SyslogWordValue(string what, string[] names) : IValueType<string>
    {
        public string Describe => "syslog " + what + " name (e.g. \"" + names[Math.Min(3, names.Length - 1)] + "\")";

        public string Parse(TomlValue value)
        {
            var s = V.AsString(value, "a syslog " + what + " name");
            if (!names.Contains(s))
                throw new UnitValueException($"\"{s}\" is not a syslog {what}; expected one of {string.Join(", ", names)}", Suggest.Hint(s, names));
            return s;
        }

        public object ToPlain(string value) => value;
    }

    /// <summary>
    /// Rules between the process keys, called from the parser's consistency check: the CPU
    /// scheduling priority must suit the policy (the kernel refuses anything else with EINVAL).
    /// </summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> ProcessConsistency(UnitDefinition unit)
    {
        var s = unit.Service;
        bool realtime = s.CPUSchedulingPolicy is CpuSchedulingPolicy.Fifo or CpuSchedulingPolicy.RR;
        if (s.CPUSchedulingPriority is { } prio)
        {
            if (realtime && prio == 0)
                yield return (ServiceSection, "CPUSchedulingPriority", $"[Service] CPUSchedulingPriority: the real-time policy \"{PolicyName(s.CPUSchedulingPolicy)}\" takes a priority from 1 to 99, got 0", true, null);
            else if (!realtime && prio != 0)
                yield return (ServiceSection, "CPUSchedulingPriority",
                    $"[Service] CPUSchedulingPriority: the policy \"{PolicyName(s.CPUSchedulingPolicy)}\" takes only priority 0, got {prio}; a priority 1–99 needs CPUSchedulingPolicy \"fifo\" or \"rr\"", true, null);
        }
        if (s.IOSchedulingClass == IoSchedulingClass.Idle && s.IOSchedulingPriority is not null)
            yield return (ServiceSection, "IOSchedulingPriority", "[Service] IOSchedulingPriority has no effect with IOSchedulingClass \"idle\", which has no priorities", false, null);
        if (s.StandardInput.Kind == StdInputKind.Data && s.StandardInputText is null && s.StandardInputData is null)
            yield return (ServiceSection, "StandardInput", "[Service] StandardInput \"data\" needs StandardInputText or StandardInputData", true, null);
        foreach (var (key, isSocket) in new[] { ("StandardInput", s.StandardInput.Kind == StdInputKind.Socket), ("StandardOutput", s.StandardOutput.Kind == StdOutputKind.Socket),
                     ("StandardError", s.StandardError.Kind == StdOutputKind.Socket) })
            if (isSocket && !unit.Name.Contains(Templates.UnitNameParts.TemplateMarker, StringComparison.Ordinal))
                yield return (ServiceSection, key, $"[Service] {key} \"socket\" is the connection of an Accept=yes socket unit, which starts an instance of a template per connection; '{unit.Name}' is not a template",
                    true, $"rename it {unit.Name}@{UnitLoader.UnitSuffix} and give the socket unit {unit.Name}.socket{UnitLoader.UnitSuffix} Accept = true");
        if (s.StandardInput.Kind != StdInputKind.Data && (s.StandardInputText is not null || s.StandardInputData is not null))
            yield return (ServiceSection, s.StandardInputText is not null ? "StandardInputText" : "StandardInputData",
                "[Service] StandardInputText and StandardInputData are read only with StandardInput \"data\"", false, null);
    }

    private static string PolicyName(CpuSchedulingPolicy? p) => (p ?? CpuSchedulingPolicy.Other) switch
    {
        CpuSchedulingPolicy.Fifo => "fifo",
        CpuSchedulingPolicy.RR => "rr",
        CpuSchedulingPolicy.Batch => "batch",
        CpuSchedulingPolicy.Idle => "idle",
        _ => "other",
    };

    /// <summary>IOSchedulingClass: a class name, or its number 0–3 (an integer or a numeric string, as systemd's ioprio_class_from_string reads it).</summary>
    private sealed class IoClassValue : IValueType<IoSchedulingClass>
    {
        public static readonly IoClassValue Instance = new();
        private static readonly (string Name, IoSchedulingClass Class)[] Names =
            [("none", IoSchedulingClass.None), ("realtime", IoSchedulingClass.Realtime), ("best-effort", IoSchedulingClass.BestEffort), ("idle", IoSchedulingClass.Idle)];

        public string Describe => "\"realtime\" | \"best-effort\" | \"idle\" | \"none\" or 0–3";

        public IoSchedulingClass Parse(TomlValue value)
        {
            if (value is TomlInteger { Value: >= 0 and <= 3 } i) return (IoSchedulingClass)i.Value;
            var s = value is TomlString str ? str.Value : throw V.Expected("\"realtime\", \"best-effort\", \"idle\" or a class number 0–3", value);
            if (s.Length == 1 && s[0] is >= '0' and <= '3') return (IoSchedulingClass)(s[0] - '0');
            foreach (var (name, c) in Names)
                if (name == s) return c;
            throw new UnitValueException($"expected \"realtime\", \"best-effort\", \"idle\" or a class number 0–3, got \"{s}\"", Suggest.Hint(s, Names.Select(n => n.Name)));
        }

        public object ToPlain(IoSchedulingClass value) => Names.First(n => n.Class == value).Name;
    }

    private sealed class Base64Value : IValueType<string>
    {
        public static readonly Base64Value Instance = new();
        public string Describe => "base64 string";

        public string Parse(TomlValue value)
        {
            var s = V.AsString(value, "base64 data in a string");
            var compact = string.Concat(s.Where(c => !char.IsWhiteSpace(c)));
            Span<byte> scratch = new byte[compact.Length];
            if (!Convert.TryFromBase64String(compact, scratch, out _))
                throw new UnitValueException("the value is not valid base64");
            return compact;
        }

        public object ToPlain(string value) => value;
    }

    /// <summary>No socket activation: what StandardInput/Output/Error say to "socket" and "fd:NAME".</summary>
    private static UnitValueException NoNamedFd(string word) =>
        new($"\"{word}\" (a descriptor of a socket unit by its FileDescriptorName) is not built; the service gets its socket units' descriptors as fds 3.. (LISTEN_FDS)",
            "\"socket\" connects the connection of an Accept=yes socket unit; else use \"null\", a file, or the unit's log");

    private sealed class StdInputValue : IValueType<StdInputSetting>
    {
        public static readonly StdInputValue Instance = new();
        public string Describe => "\"null\" | \"tty\" | \"tty-force\" | \"tty-fail\" | \"data\" | \"file:PATH\" | \"socket\"";

        public StdInputSetting Parse(TomlValue value)
        {
            var s = V.AsString(value, "a standard input mode");
            switch (s)
            {
                case "null": return StdInputSetting.Null;
                case "tty": return new(StdInputKind.Tty);
                case "tty-force": return new(StdInputKind.TtyForce);
                case "tty-fail": return new(StdInputKind.TtyFail);
                case "data": return new(StdInputKind.Data);
                case "socket": return new(StdInputKind.Socket);
            }
            if (s.StartsWith("fd:", StringComparison.Ordinal) || s == "fd") throw NoNamedFd(s);
            if (s.StartsWith("file:", StringComparison.Ordinal))
                return new(StdInputKind.File, V.AbsolutePath.Parse(new TomlString(value.Location, s["file:".Length..])));
            throw new UnitValueException($"expected \"null\", \"tty\", \"tty-force\", \"tty-fail\", \"data\", \"file:PATH\" or \"socket\", got \"{s}\"",
                Suggest.Hint(s, ["null", "tty", "tty-force", "tty-fail", "data", "file:", "socket"]));
        }

        public object ToPlain(StdInputSetting value) => value.ToString();
    }

    private sealed class StdOutputValue(bool stderr) : IValueType<StdOutputSetting>
    {
        public static readonly StdOutputValue Stdout = new(false);
        public static readonly StdOutputValue Stderr = new(true);

        private static readonly string[] LogWords = ["journal", "syslog", "kmsg", "journal+console", "syslog+console", "kmsg+console"];
        private static readonly (string Prefix, StdOutputKind Kind)[] FileForms =
            [("file:", StdOutputKind.File), ("append:", StdOutputKind.Append), ("truncate:", StdOutputKind.Truncate)];

        public string Describe => "\"journal\" | \"inherit\" | \"null\" | \"tty\" | \"file:PATH\" | \"append:PATH\" | \"truncate:PATH\" | \"socket\"";

        public StdOutputSetting Parse(TomlValue value)
        {
            var s = V.AsString(value, stderr ? "a standard error mode" : "a standard output mode");
            switch (s)
            {
                case "inherit": return StdOutputSetting.Inherit;
                case "null": return new(StdOutputKind.Null, null, s);
                case "tty": return new(StdOutputKind.Tty, null, s);
                case "socket": return new(StdOutputKind.Socket, null, s);
            }
            if (LogWords.Contains(s)) return new(StdOutputKind.Log, null, s);
            if (s.StartsWith("fd:", StringComparison.Ordinal) || s == "fd") throw NoNamedFd(s);
            foreach (var (prefix, kind) in FileForms)
                if (s.StartsWith(prefix, StringComparison.Ordinal))
                    return new(kind, V.AbsolutePath.Parse(new TomlString(value.Location, s[prefix.Length..])), prefix.TrimEnd(':'));
            throw new UnitValueException($"expected \"journal\", \"inherit\", \"null\", \"tty\", \"file:PATH\", \"append:PATH\", \"truncate:PATH\" or \"socket\", got \"{s}\"",
                Suggest.Hint(s, [.. LogWords, "inherit", "null", "tty", "file:", "append:", "truncate:", "socket"]));
        }

        public object ToPlain(StdOutputSetting value) => value.ToString();
    }
}
