using System.Globalization;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Sandbox] keys that give the unit its own namespaces under systemd's names, and the filesystem view around them.</summary>
    private static IEnumerable<KeySpec> NamespaceKeys() =>
    [
        X("PrivateNetwork", Restart, SystemdBool, x => x.PrivateNetwork, (x, v) => x with { PrivateNetwork = v }, "false", "own network namespace with only a loopback interface, brought up (the same as \"net\" in Namespaces)"),
        X("PrivateIPC", Restart, SystemdBool, x => x.PrivateIPC, (x, v) => x with { PrivateIPC = v }, "false", "own IPC namespace: System V IPC objects and POSIX message queues of the host are out of reach; /dev/mqueue shows the unit's own (the same as \"ipc\" in Namespaces)"),
        X("PrivateMounts", Restart, SystemdBool, x => x.PrivateMounts, (x, v) => x with { PrivateMounts = v }, "false", "own mount namespace: mounts the service makes stay its own (the same as \"mount\" in Namespaces)"),
        X("PrivatePIDs", Restart, SystemdBool, x => x.PrivatePIDs, (x, v) => x with { PrivatePIDs = v }, "false", "own pid namespace and its own /proc: the service is pid 2 under a tiny init and sees no host process (systemd 257's key; the same as \"pid\" in Namespaces)"),
        X("PrivateUsers", Restart, SystemdBool, x => x.PrivateUsers, (x, v) => x with { PrivateUsers = v }, "false", "own user namespace in which only root, the service's user and groups and nobody (65534) are mapped, each to itself: files of the service user stay readable, every other id shows as nobody, and capabilities count only inside (systemd's meaning; cannot be combined with \"user\" in Namespaces, whose mapping differs)"),
        X("NoExecPaths", Restart, V.OptionalPathList, x => x.NoExecPaths, (x, v) => x with { NoExecPaths = v }, "[]", "nothing below these paths can be executed (noexec mounts; exec fails with EACCES)", MergeRule.List),
        X("ExecPaths", Restart, V.OptionalPathList, x => x.ExecPaths, (x, v) => x with { ExecPaths = v }, "[]", "paths below a NoExecPaths entry where executing is allowed again (applied after it, as in systemd)", MergeRule.List),
        X("TemporaryFileSystem", Restart, TemporaryFileSystemList, x => x.TemporaryFileSystem, (x, v) => x with { TemporaryFileSystem = v }, "[]", "an empty tmpfs over each path, \"path[:options]\" with mount options ro, noexec, mode=, size=, nr_inodes=, uid=, gid= (e.g. \"/var:ro\"); always nosuid and nodev", MergeRule.List),
    ];

    // Properties, not static fields: KeyTable's static fields in another file (All) may be
    // initialised first, and Build() reads these.

    /// <summary>A boolean as TOML writes it, or as systemd spells it: "yes"/"no", "on"/"off", "true"/"false", "1"/"0".</summary>
    private static IValueType<bool> SystemdBool => new SystemdBoolean();

    private sealed class SystemdBoolean : IValueType<bool>
    {
        private static readonly string[] Yes = ["yes", "y", "true", "t", "on", "1"];
        private static readonly string[] No = ["no", "n", "false", "f", "off", "0"];

        public string Describe => "boolean";

        public bool Parse(TomlValue value) => value switch
        {
            TomlBoolean b => b.Value,
            TomlString s when Yes.Contains(s.Value, StringComparer.OrdinalIgnoreCase) => true,
            TomlString s when No.Contains(s.Value, StringComparer.OrdinalIgnoreCase) => false,
            TomlString s => throw new UnitValueException($"expected true or false (or systemd's \"yes\"/\"no\"), got \"{s.Value}\"",
                Suggest.Hint(s.Value, [.. Yes, .. No])),
            _ => throw V.Expected("true or false", value),
        };

        public object ToPlain(bool value) => value;
    }


    private static IValueType<ValueList<TemporaryFileSystem>> TemporaryFileSystemList =>
        V.ListOf(new TemporaryFileSystemValue(), "array of \"path[:options]\"");

    private sealed class TemporaryFileSystemValue : IValueType<TemporaryFileSystem>
    {
        private static readonly string[] TmpfsFlagOptions = ["ro", "rw", "noexec", "exec", "nosuid", "nodev"];
        private static readonly string[] TmpfsValueOptions = ["mode", "size", "nr_inodes", "uid", "gid"];

        public string Describe => "\"path[:options]\"";

        public TemporaryFileSystem Parse(TomlValue value)
        {
            var s = V.AsString(value, "\"path[:options]\", e.g. \"/var:ro\"");
            if (!s.StartsWith('/'))
                throw V.Expected("\"path[:options]\" with an absolute path, e.g. \"/var:ro\"", value);
            int colon = s.IndexOf(':');
            var path = V.AbsolutePath.Parse(new TomlString(value.Location, colon < 0 ? s : s[..colon]));
            var options = colon < 0 ? [] : s[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries);
            foreach (var o in options)
                CheckOption(o);
            return new TemporaryFileSystem(path, new ValueList<string>(options));
        }

        public object ToPlain(TemporaryFileSystem value) => value.ToString();

        private static void CheckOption(string option)
        {
            if (option.Length == 0)
                throw new UnitValueException("empty mount option; options are separated by single commas, e.g. \"/var:ro,mode=0700\"");
            if (option is "suid" or "dev")
                throw new UnitValueException($"option \"{option}\" is not available: a TemporaryFileSystem is always nosuid and nodev");
            int eq = option.IndexOf('=');
            if (eq < 0)
            {
                if (!TmpfsFlagOptions.Contains(option))
                    throw new UnitValueException($"unknown mount option \"{option}\"; expected one of {string.Join(", ", TmpfsFlagOptions.Concat(TmpfsValueOptions.Select(o => o + "=")))}",
                        Suggest.Hint(option, [.. TmpfsFlagOptions, .. TmpfsValueOptions]));
                return;
            }
            var (name, val) = (option[..eq], option[(eq + 1)..]);
            bool ok = name switch
            {
                "mode" => val.Length is > 0 and <= 4 && val.All(c => c is >= '0' and <= '7'),
                "size" => IsTmpfsSize(val),
                "nr_inodes" or "uid" or "gid" => val.Length is > 0 and <= 10 && val.All(char.IsAsciiDigit) && ulong.Parse(val, CultureInfo.InvariantCulture) <= uint.MaxValue,
                _ => throw new UnitValueException($"unknown mount option \"{name}=\"; expected one of {string.Join(", ", TmpfsValueOptions.Select(o => o + "="))}",
                    Suggest.Hint(name, TmpfsValueOptions)),
            };
            if (!ok)
                throw new UnitValueException(name switch
                {
                    "mode" => $"mode=\"{val}\": expected an octal mode like 0755",
                    "size" => $"size=\"{val}\": expected a size like 64M or a share of memory like 10%",
                    _ => $"{name}=\"{val}\": expected a number",
                });
        }

        /// <summary>tmpfs' size=: bytes with an optional k, m, g suffix, or a percentage of RAM.</summary>
        private static bool IsTmpfsSize(string v)
        {
            if (v.Length is 0 or > 20) return false;
            var digits = v[^1] is 'k' or 'K' or 'm' or 'M' or 'g' or 'G' or '%' ? v[..^1] : v;
            return digits.Length > 0 && digits.All(char.IsAsciiDigit);
        }
    }

    /// <summary>
    /// The rules between the namespace keys and the rest of [Sandbox], and the filesystem facts a
    /// sandbox cannot change (a mount point outside any fresh filesystem must already exist): so a
    /// unit <c>check</c> accepts gets its view when it starts.
    /// </summary>
    internal static void CheckNamespaceKeys(ParsedUnit parsed, Action<string, string, string?> error, Action<string, string> warn)
    {
        var x = parsed.Definition.Sandbox;
        if (x.PrivateNetwork && x.NetworkNamespacePath is not null)
            error("PrivateNetwork", "[Sandbox] PrivateNetwork creates a new network namespace; it cannot be combined with NetworkNamespacePath, which joins an existing one",
                "remove one of the two");
        if (x.PrivateUsers && x.Namespaces.HasFlag(Namespaces.User))
            error("PrivateUsers", "[Sandbox] PrivateUsers maps root, the service's user and nobody each to itself, while \"user\" in Namespaces maps ids 0–65535 to unprivileged host ids from 100000; a unit has one user namespace",
                "keep PrivateUsers (systemd's meaning) or \"user\" in Namespaces, not both");
        foreach (var p in x.NoExecPaths)
            if (x.ExecPaths.Any(e => e.Path == p.Path))
                error("ExecPaths", $"[Sandbox] ExecPaths: '{p.Path}' is also in NoExecPaths; a path is one or the other", "list it in only one of them");
        foreach (var group in x.TemporaryFileSystem.GroupBy(t => t.Path).Where(g => g.Count() > 1))
            error("TemporaryFileSystem", $"[Sandbox] TemporaryFileSystem: '{group.Key}' is listed {group.Count()} times", "keep one entry with all its options");
        var root = x.RootDirectory is { Length: > 1 } r ? r.TrimEnd('/') : "";
        bool InView(string path) => Exists(root + path);
        var fresh = x.FreshFileSystems(InView);
        CheckHiddenPaths(x, fresh, error);
        CheckBindTargets(x, fresh, InView, error, warn);
        foreach (var (key, paths) in new[] { ("NoExecPaths", x.NoExecPaths), ("ExecPaths", x.ExecPaths) })
            foreach (var p in paths.Where(p => !p.IgnoreIfMissing && !InView(p.Path) && Model.SandboxSection.FreshFileSystemAbove(fresh, p.Path) is null))
                error(key, $"[Sandbox] {key}: '{p.Path}' does not exist{(root.Length > 0 ? $" in RootDirectory '{root}'" : "")}",
                    "prefix it with \"-\" to skip it when missing");
        foreach (var t in x.TemporaryFileSystemsInMountOrder)
            if (!InView(t.Path) && Model.SandboxSection.FreshFileSystemAbove(fresh.TakeWhile(f => f != t.Path).ToList(), t.Path) is null)
                error("TemporaryFileSystem", $"[Sandbox] TemporaryFileSystem: '{t.Path}' does not exist{(root.Length > 0 ? $" in RootDirectory '{root}'" : "")}, so there is nothing to mount the tmpfs on",
                    "create the directory first");
    }

    /// <summary>A path the unit names inside a fresh, empty filesystem of its own is not there.</summary>
    private static void CheckHiddenPaths(SandboxSection x, IReadOnlyList<string> fresh, Action<string, string, string?> error)
    {
        (string Key, IEnumerable<OptionalPath> Paths)[] lists =
        [
            ("ReadOnlyPaths", x.ReadOnlyPaths), ("ReadWritePaths", x.ReadWritePaths), ("InaccessiblePaths", x.InaccessiblePaths),
            ("NoExecPaths", x.NoExecPaths), ("ExecPaths", x.ExecPaths),
        ];
        foreach (var (key, paths) in lists)
            foreach (var p in paths.Where(p => !p.IgnoreIfMissing))
                if (Model.SandboxSection.FreshFileSystemAbove(fresh, p.Path) is { } above && above != p.Path)
                    error(key, $"[Sandbox] {key}: '{p.Path}' is under '{above}', which the sandbox replaces with an empty tmpfs ({FreshCause(x, above)})",
                        "prefix it with \"-\" to skip it, or bind what it needs there with BindPaths");
    }

    /// <summary>
    /// BindPaths and BindReadOnlyPaths. A missing source (without "-") is a warning: it may be
    /// runtime state that appears before the start (/dev/log, a socket under /run). A missing
    /// destination is created where that touches nothing but the sandbox or one new node: inside
    /// a fresh filesystem of the sandbox with its parents, elsewhere only inside an existing
    /// directory (as systemd makes it; Debian's haproxy relies on it). Anything else cannot work.
    /// </summary>
    private static void CheckBindTargets(SandboxSection x, IReadOnlyList<string> fresh, Func<string, bool> inView,
        Action<string, string, string?> error, Action<string, string> warn)
    {
        var root = x.RootDirectory is { Length: > 1 } r ? r.TrimEnd('/') : "";
        foreach (var (key, binds) in new[] { ("BindPaths", x.BindPaths), ("BindReadOnlyPaths", x.BindReadOnlyPaths) })
        {
            foreach (var b in binds)
            {
                if (!Exists(b.Source))
                {
                    if (!b.IgnoreIfMissing)
                        warn(key, $"[Sandbox] {key}: the source '{b.Source}' does not exist on this host; the unit cannot start until it does (prefix the entry with \"-\" to skip it when missing)");
                    continue;
                }
                var parent = Path.GetDirectoryName(b.Destination) ?? "/";
                if (Model.SandboxSection.FreshFileSystemAbove(fresh, b.Destination) is not null || inView(b.Destination) || Directory.Exists(root + parent))
                    continue;
                error(key, $"[Sandbox] {key}: the mount point '{b.Destination}' does not exist{(root.Length > 0 ? $" in RootDirectory '{root}'" : "")}, nor does its directory '{parent}'; " +
                    "a mount point is made only inside an existing directory, or anywhere inside a fresh filesystem of the sandbox (PrivateTmp, TemporaryFileSystem, PrivateDevices, ProtectHome=\"tmpfs\")",
                    "create the directory first, or bind into a TemporaryFileSystem");
            }
        }
    }

    private static string FreshCause(SandboxSection x, string fresh) => fresh switch
    {
        "/tmp" or "/var/tmp" when x.PrivateTmp => "PrivateTmp",
        "/dev" when x.PrivateDevices => "PrivateDevices",
        _ when x.TemporaryFileSystem.Any(t => t.Path == fresh) => "TemporaryFileSystem",
        _ => "ProtectHome=\"tmpfs\"",
    };

    private static bool Exists(string path) => Directory.Exists(path) || File.Exists(path) || new FileInfo(path).LinkTarget is not null;
}
