using System.Globalization;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>The Condition*/Assert* kinds Supervisor checks (systemd 252's names), what each reads, and how its parameter is validated.</summary>
    public static readonly IReadOnlyList<(string Kind, string Doc, Func<string, string?> Check)> ConditionKinds =
    [
        ("PathExists", "the path exists", AbsoluteParameter),
        ("PathExistsGlob", "some path matches the glob (* ? [...])", AbsoluteParameter),
        ("PathIsDirectory", "the path is a directory", AbsoluteParameter),
        ("PathIsSymbolicLink", "the path is a symbolic link", AbsoluteParameter),
        ("PathIsMountPoint", "the path is a mount point (/proc/self/mountinfo)", AbsoluteParameter),
        ("PathIsReadWrite", "the path is on a file system mounted read-write", AbsoluteParameter),
        ("DirectoryNotEmpty", "the path is a directory with an entry that is not hidden (\".\" first) or a backup (\"~\" last)", AbsoluteParameter),
        ("FileNotEmpty", "the path is a regular file of non-zero size", AbsoluteParameter),
        ("FileIsExecutable", "the path is a regular file with an execute bit", AbsoluteParameter),
        ("User", "the supervisor runs as this user (name, uid, or \"@system\": a uid below 1000)", NonEmptyParameter),
        ("Group", "the supervisor's gid or one of its groups is this group (name or gid)", NonEmptyParameter),
        ("Capability", "the supervisor's bounding set holds this capability", CapabilityParameter),
        ("Virtualization", "the host is virtualized (true/false), a VM (\"vm\"), a container (\"container\"), in a user namespace (\"private-users\") or this technology (kvm, qemu, vmware, oracle, microsoft, xen, amazon, docker, podman, lxc, systemd-nspawn …), as detected from DMI, /proc/cpuinfo, /sys/hypervisor, /proc/1/environ, /run/systemd/container and /.dockerenv", VirtualizationParameter),
        ("KernelCommandLine", "/proc/cmdline has this word, or a word \"VALUE=…\" when no \"=\" is given", NonEmptyParameter),
        ("KernelVersion", "the kernel release compares true with each space-separated expression (<, <=, =, !=, >=, > and a version; without an operator a glob)", KernelVersionParameter),
        ("Environment", "the supervisor's environment has this variable (\"NAME\") or this assignment (\"NAME=value\")", NonEmptyParameter),
        ("Security", "this security technology is on: selinux, apparmor, tomoyo, ima, smack, audit, uefi-secureboot, tpm2", SecurityParameter),
        ("ACPower", "the host is (true) or is not (false) on mains power; true when it has no power supply information", BoolParameter),
        ("Host", "the host name matches this glob, or /etc/machine-id is this ID", NonEmptyParameter),
        ("Architecture", "the architecture (systemd's names: x86-64, arm64 …, or \"native\")", ArchitectureParameter),
        ("Firmware", "the firmware is \"uefi\", \"device-tree\", or \"device-tree-compatible(VALUE)\"", FirmwareParameter),
        ("FirstBoot", "this is (true) or is not (false) the system's first boot: /run/systemd/first-boot exists (systemd as PID 1 made it), or /etc/machine-id is missing, empty or \"uninitialized\"; the kernel command line's systemd.condition-first-boot= overrides", BoolParameter),
        ("NeedsUpdate", "/etc or /var (the parameter) is older than /usr: its .updated stamp is missing or older than /usr's modification time (false on a read-only file system); systemd.condition-needs-update= on the kernel command line overrides", NeedsUpdateParameter),
        ("Credential", "the supervisor itself was given a credential of this name (a file in its $CREDENTIALS_DIRECTORY or $ENCRYPTED_CREDENTIALS_DIRECTORY)", CredentialParameter),
        ("OSRelease", "every space-separated \"KEY=VALUE\" holds against /etc/os-release (else /usr/lib/os-release): = and != compare the text, $= and !$= with a glob, <, <=, >=, > as versions; a key the file lacks is empty", OsReleaseParameter),
        ("Memory", "the host's physical memory (in a container: the limit of its top cgroup, when lower) compares with this size: \"[OP]SIZE\", >= when no operator (<, <=, =, !=, >=, >; K, M, G, T are powers of 1024)", MemoryParameter),
        ("CPUs", "the number of CPUs the supervisor may run on (its affinity mask) compares with this number: \"[OP]N\", >= when no operator", CpusParameter),
        ("CPUFeature", "the CPU has this feature, as /proc/cpuinfo's flags name it (sse4_2, avx2, aes, rdrand …)", NonEmptyParameter),
        ("ControlGroupController", "every space-separated cgroup controller is available (v1: a mounted hierarchy; v2: listed in the root's cgroup.controllers), and \"v1\" or \"v2\" names the hierarchy in use (v1 includes hybrid); names systemd does not know are ignored, as systemd does", NonEmptyParameter),
        ("MemoryPressure", "the host's memory pressure (PSI: /proc/pressure/memory, its \"full\" line, else \"some\") averaged over 5 min, or over the window after \"/\" (10sec, 1min, 5min), is at most this percentage (\"20%\", \"20%/1min\"); true on a kernel without PSI", PressureParameter),
        ("CPUPressure", "as ConditionMemoryPressure, for /proc/pressure/cpu", PressureParameter),
        ("IOPressure", "as ConditionMemoryPressure, for /proc/pressure/io", PressureParameter),
        ("PathIsEncrypted", "the path is on a block device encrypted with dm-crypt (its device, or one below it in the device-mapper stack: /sys/dev/block/…/dm/uuid starts with CRYPT-)", AbsoluteParameter),
    ];

    /// <summary>[Unit] Condition*, Assert*, OnFailure, OnSuccess and [Service] ExecCondition, BusName.</summary>
    private static IEnumerable<KeySpec> ConditionKeys()
    {
        foreach (var (kind, doc, check) in ConditionKinds)
        {
            yield return ConditionKey(kind, false, check, $"start only if {doc}; \"!\" negates, \"|\" makes it one of several triggering conditions; failing it the start is skipped and the unit stays inactive (not failed)");
            yield return ConditionKey(kind, true, check, $"like Condition{kind}, but failing it fails the start job (\"Assertion failed\"); the unit stays inactive");
        }
        yield return Service(U("RequiresMountsFor", Reload, V.AbsolutePathList, u => u.RequiresMountsFor, (u, v) => u with { RequiresMountsFor = v }, "[]",
            "paths whose file systems must be mounted: every mount point on the way to each path that /etc/fstab declares must be mounted when the unit starts, else the start fails as a dependency (systemd would mount it first; Supervisor does not mount file systems)", MergeRule.List));
        yield return Service(U("RefuseManualStart", Reload, V.SystemdBool, u => u.RefuseManualStart, (u, v) => u with { RefuseManualStart = v }, "false",
            "only a dependency may start the unit: start and restart over the control API (CLI, D-Bus) are refused (OnlyByDependency)"));
        yield return Service(U("RefuseManualStop", Reload, V.SystemdBool, u => u.RefuseManualStop, (u, v) => u with { RefuseManualStop = v }, "false",
            "only a dependency may stop the unit: stop and restart over the control API (CLI, D-Bus) are refused (OnlyByDependency)"));
        yield return Service(U("OnFailure", Reload, V.UnitNameList, u => u.OnFailure, (u, v) => u with { OnFailure = v }, "[]",
            "units started when this one enters the failed state (after its Restart= policy gave up; an automatic restart does not count, as in systemd 252)", MergeRule.List));
        yield return Service(U("OnSuccess", Reload, V.UnitNameList, u => u.OnSuccess, (u, v) => u with { OnSuccess = v }, "[]",
            "units started when this one becomes inactive after it was up (a oneshot that exited 0, a stopped service), as in systemd", MergeRule.List));
        yield return S("ExecCondition", NextUse, V.CommandList, s => s.ExecCondition, (s, v) => s with { ExecCondition = v }, "[]",
            "commands run in order before ExecStartPre: exit 0 goes on, exit 1–254 skips the start (inactive, not failed; result exec-condition), exit 255 or a signal fails it", MergeRule.List);
        yield return S("BusName", NextUse, new Nullable<string>(BusNameValue.Instance), s => s.BusName, (s, v) => s with { BusName = v }, "not set",
            "Type=dbus: the service is started when this name has an owner on the system bus (the supervisor's --system-bus, polled with GetNameOwner)");
    }

    /// <summary>Rules between these keys and the rest of the unit: (section, key, message, is it an error, hint).</summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> ConditionConsistency(UnitDefinition unit)
    {
        var s = unit.Service;
        if (unit.Kind != UnitKind.Service) yield break;
        if (s.Type == ServiceType.Dbus && s.BusName is null)
            yield return (ServiceSection, "Type", "[Service] Type = \"dbus\" needs BusName, the name whose owner makes the service started", true, "add BusName = \"org.example.Name\"");
        if (s.BusName is not null && s.Type != ServiceType.Dbus)
            yield return (ServiceSection, "BusName", "[Service] BusName is only used with Type = \"dbus\"; ignoring it", false, null);
    }

    /// <summary>A [Unit] key of services only (a slice neither starts nor fails).</summary>
    private static KeySpec Service<T>(KeySpec<T> spec) => new KeySpec<T>(spec.ValueType, spec.Getter, spec.Setter)
    {
        Section = spec.Section, Name = spec.Name, OnChange = spec.OnChange, Default = spec.Default, Description = spec.Description, ForSlices = false, Merge = spec.Merge,
    };

    private static KeySpec ConditionKey(string kind, bool isAssert, Func<string, string?> check, string doc)
    {
        var key = (isAssert ? "Assert" : "Condition") + kind;
        return new KeySpec<ValueList<UnitCondition>>(new ConditionList(kind, isAssert, check),
            u => new ValueList<UnitCondition>(u.Unit.Conditions.Where(c => c.Kind == kind && c.IsAssert == isAssert)),
            (u, v) => u with { Unit = u.Unit with { Conditions = new ValueList<UnitCondition>(u.Unit.Conditions.Where(c => !(c.Kind == kind && c.IsAssert == isAssert)).Concat(v)) } })
        {
            Section = UnitSection, Name = key, OnChange = Reload, Default = "[]", Description = doc, ForSlices = false, Merge = MergeRule.List,
        };
    }

    /// <summary>An array of strings, each "[|][!]PARAMETER"; the parameter checked by its kind.</summary>
    private sealed class ConditionList(string kind, bool isAssert, Func<string, string?> check) : IValueType<ValueList<UnitCondition>>
    {
        public string Describe => "array of strings (\"|\" and \"!\" prefixes)";

        public ValueList<UnitCondition> Parse(TomlValue value)
        {
            var items = V.AsArray(value, "an array of strings, e.g. [\"!/etc/x\"]");
            var list = new List<UnitCondition>(items.Count);
            foreach (var item in items)
            {
                var c = UnitCondition.Parse(kind, isAssert, V.AsString(item, "a string"));
                if (check(c.Parameter) is { } problem)
                    throw new UnitValueException($"\"{V.AsString(item, "a string")}\": {problem}");
                list.Add(c);
            }
            return new ValueList<UnitCondition>(list);
        }

        public object ToPlain(ValueList<UnitCondition> value) => Plain.List(value.Select(c => (object)c.Written));
    }

    private static string? NonEmptyParameter(string p) => p.Length == 0 ? "the value is empty" : null;

    private static string? AbsoluteParameter(string p) =>
        p.StartsWith('/') ? null : "expected an absolute path (after the \"|\" and \"!\" prefixes)";

    private static string? CapabilityParameter(string p) =>
        Capabilities.TryParse(p, out _) ? null : $"unknown capability \"{p}\"";

    private static string? BoolParameter(string p) => SystemdBoolWord(p) is null ? $"expected a boolean, got \"{p}\"" : null;

    public static readonly IReadOnlyList<string> VirtualizationIds =
    [
        "kvm", "amazon", "qemu", "bochs", "xen", "uml", "vmware", "oracle", "microsoft", "zvm", "parallels", "bhyve", "qnx", "acrn",
        "powervm", "apple", "sre", "vm-other", "systemd-nspawn", "lxc-libvirt", "lxc", "openvz", "docker", "podman", "rkt", "wsl",
        "proot", "pouch", "container-other",
    ];

    private static string? VirtualizationParameter(string p) =>
        SystemdBoolWord(p) is not null || p is "vm" or "container" or "private-users" || VirtualizationIds.Contains(p) ? null
            : $"unknown virtualization \"{p}\": expected a boolean, vm, container, private-users or one of {string.Join(", ", VirtualizationIds)}";

    public static readonly IReadOnlyList<string> SecurityNames = ["selinux", "apparmor", "tomoyo", "ima", "smack", "audit", "uefi-secureboot", "tpm2"];

    private static string? SecurityParameter(string p) =>
        SecurityNames.Contains(p) ? null : $"unknown security technology \"{p}\": expected one of {string.Join(", ", SecurityNames)}";

    public static readonly IReadOnlyList<string> ArchitectureNames =
    [
        "x86", "x86-64", "ppc", "ppc-le", "ppc64", "ppc64-le", "ia64", "parisc", "parisc64", "s390", "s390x", "sparc", "sparc64",
        "mips", "mips-le", "mips64", "mips64-le", "alpha", "arm", "arm-be", "arm64", "arm64-be", "sh", "sh64", "m68k", "tilegx",
        "cris", "arc", "arc-be", "loongarch64", "riscv32", "riscv64", "native",
    ];

    private static string? ArchitectureParameter(string p) =>
        ArchitectureNames.Contains(p) ? null : $"unknown architecture \"{p}\": expected one of {string.Join(", ", ArchitectureNames)}";

    private static string? OsReleaseParameter(string p)
    {
        var words = ConditionExpressions.OsReleaseWords(p);
        if (words.Count == 0) return "the value is empty";
        var bad = words.FirstOrDefault(w => ConditionExpressions.ParseOsReleaseWord(w) is null);
        return bad is null ? null : $"\"{bad}\" is not KEY=VALUE, KEY!=VALUE, KEY$=GLOB, KEY!$=GLOB or KEY<VERSION (also <=, >=, >)";
    }

    private static string? MemoryParameter(string p) =>
        ConditionExpressions.ParseMemory(p) is null ? $"\"{p}\" is not a size with an optional operator (\">=4G\", \"<512M\")" : null;

    private static string? CpusParameter(string p) =>
        ConditionExpressions.ParseCpus(p) is null ? $"\"{p}\" is not a CPU count with an optional operator (\">=2\", \"=1\")" : null;

    private static string? PressureParameter(string p) =>
        p.Contains(':') ? "a slice before the threshold (\"SLICE:N%\") is not supported: Supervisor checks the host's pressure"
        : ConditionExpressions.ParsePressure(p) is null ? $"\"{p}\" is not a percentage with an optional window (\"20%\", \"20%/10sec\", \"20%/1min\", \"20%/5min\")" : null;

    private static string? NeedsUpdateParameter(string p) =>
        p.TrimEnd('/') is "/etc" or "/var" ? null : $"expected /etc or /var, got \"{p}\"";

    /// <summary>systemd's credential_name_valid: a file name (no "/", not "." or ".."), at most 255 bytes.</summary>
    private static string? CredentialParameter(string p) =>
        IsCredentialName(p) ? null : $"\"{p}\" is not a credential name (a file name of at most 255 characters)";

    /// <summary>systemd's credential_name_valid: a file name (no "/", not "." or ".."), at most 255 characters.</summary>
    public static bool IsCredentialName(string p) => p.Length is > 0 and <= 255 && !p.Contains('/') && p is not ("." or "..");

    private static string? FirmwareParameter(string p) =>
        p is "uefi" or "device-tree" || (p.StartsWith("device-tree-compatible(", StringComparison.Ordinal) && p.EndsWith(')') && p.Length > "device-tree-compatible()".Length)
            ? null : $"unknown firmware \"{p}\": expected uefi, device-tree or device-tree-compatible(VALUE)";

    private static string? KernelVersionParameter(string p)
    {
        if (p.Length == 0) return "the value is empty";
        foreach (var word in p.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var (op, version) = KernelVersionExpression.Split(word);
            if (op is not null && version.Length == 0) return $"\"{word}\" has an operator but no version";
        }
        return null;
    }

    /// <summary>A systemd boolean word, as ValueTypes reads one ("yes", "off", "1" …), or null.</summary>
    public static bool? SystemdBoolWord(string p) => p.ToLowerInvariant() switch
    {
        "1" or "yes" or "y" or "true" or "t" or "on" => true,
        "0" or "no" or "n" or "false" or "f" or "off" => false,
        _ => null,
    };

    /// <summary>BusName: a well-known D-Bus name (elements of [A-Za-z0-9_-], not starting with a digit, separated by dots, at least two).</summary>
    private sealed class BusNameValue : IValueType<string>
    {
        public static readonly BusNameValue Instance = new();
        public string Describe => "D-Bus well-known name";
        public string Parse(TomlValue value)
        {
            var s = V.AsString(value, "a D-Bus name such as \"org.freedesktop.Avahi\"");
            var parts = s.Split('.');
            if (s.Length > 255 || s.StartsWith(':') || parts.Length < 2
                || parts.Any(p => p.Length == 0 || char.IsAsciiDigit(p[0]) || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
                throw new UnitValueException($"\"{s}\" is not a well-known D-Bus name (dot-separated elements of letters, digits, '_' and '-', not starting with a digit)");
            return s;
        }
        public object ToPlain(string value) => value;
    }
}

/// <summary>ConditionKernelVersion's expressions: an operator and a version, or a glob.</summary>
public static class KernelVersionExpression
{
    private static readonly string[] Operators = ["<=", ">=", "!=", "<", ">", "="];

    public static (string? Op, string Version) Split(string word)
    {
        foreach (var op in Operators)
            if (word.StartsWith(op, StringComparison.Ordinal)) return (op, word[op.Length..].Trim());
        return (null, word);
    }

    /// <summary>Whether the release satisfies one expression.</summary>
    public static bool Test(string release, string word)
    {
        var (op, version) = Split(word);
        if (op is null) return Glob.Matches(word, release);
        int c = VersionCompare.Compare(release, version);
        return op switch
        {
            "<" => c < 0, "<=" => c <= 0, "=" => c == 0, "!=" => c != 0, ">=" => c >= 0, ">" => c > 0,
            _ => false,
        };
    }
}

/// <summary>A version comparison in the spirit of systemd's strverscmp_improved: digit runs compare as numbers, other runs as text, "~" sorts first, a longer version with the same start is newer.</summary>
public static class VersionCompare
{
    public static int Compare(string a, string b)
    {
        int i = 0, j = 0;
        while (true)
        {
            // Separators ('.', '-', '_', '+') are skipped, as systemd does between segments.
            while (i < a.Length && !char.IsAsciiLetterOrDigit(a[i]) && a[i] != '~') i++;
            while (j < b.Length && !char.IsAsciiLetterOrDigit(b[j]) && b[j] != '~') j++;
            bool ea = i >= a.Length, eb = j >= b.Length;
            if (ea || eb) return ea && eb ? 0 : ea ? (b[j] == '~' ? 1 : -1) : (a[i] == '~' ? -1 : 1);
            if (a[i] == '~' || b[j] == '~')
            {
                if (a[i] != b[j]) return a[i] == '~' ? -1 : 1;
                i++; j++;
                continue;
            }
            if (char.IsAsciiDigit(a[i]) != char.IsAsciiDigit(b[j])) return char.IsAsciiDigit(a[i]) ? 1 : -1;
            int si = i, sj = j;
            bool digits = char.IsAsciiDigit(a[i]);
            while (i < a.Length && (digits ? char.IsAsciiDigit(a[i]) : char.IsAsciiLetter(a[i]))) i++;
            while (j < b.Length && (digits ? char.IsAsciiDigit(b[j]) : char.IsAsciiLetter(b[j]))) j++;
            var x = a[si..i];
            var y = b[sj..j];
            int c = digits
                ? CompareNumbers(x, y)
                : string.CompareOrdinal(x, y);
            if (c != 0) return Math.Sign(c);
        }
    }

    private static int CompareNumbers(string x, string y)
    {
        x = x.TrimStart('0');
        y = y.TrimStart('0');
        return x.Length != y.Length ? x.Length.CompareTo(y.Length) : string.CompareOrdinal(x, y);
    }
}

/// <summary>fnmatch(3) without flags, for ConditionHost, ConditionKernelVersion and ConditionPathExistsGlob components: * ? and [...] ([!...] negated).</summary>
public static class Glob
{
    public static bool Matches(string pattern, string text) => Match(pattern, 0, text, 0);

    public static bool HasMagic(string s) => s.IndexOfAny(['*', '?', '[']) >= 0;

    private static bool Match(string p, int pi, string t, int ti)
    {
        while (pi < p.Length)
        {
            char c = p[pi];
            if (c == '*')
            {
                while (pi < p.Length && p[pi] == '*') pi++;
                if (pi == p.Length) return true;
                for (int k = ti; k <= t.Length; k++)
                    if (Match(p, pi, t, k)) return true;
                return false;
            }
            if (ti >= t.Length) return false;
            if (c == '?') { pi++; ti++; continue; }
            if (c == '[' && Class(p, pi, t[ti]) is { } end)
            {
                if (end < 0) return false;
                pi = end;
                ti++;
                continue;
            }
            if (c == '\\' && pi + 1 < p.Length) { pi++; c = p[pi]; }
            if (c != t[ti]) return false;
            pi++;
            ti++;
        }
        return ti == t.Length;
    }

    /// <summary>A bracket expression at p[start]: the index after it when ch matches, -1 when not, null when it is not a bracket expression.</summary>
    private static int? Class(string p, int start, char ch)
    {
        int i = start + 1;
        bool negate = i < p.Length && p[i] is '!' or '^';
        if (negate) i++;
        bool matched = false;
        bool first = true;
        while (i < p.Length && (p[i] != ']' || first))
        {
            first = false;
            char lo = p[i];
            if (i + 2 < p.Length && p[i + 1] == '-' && p[i + 2] != ']')
            {
                if (ch >= lo && ch <= p[i + 2]) matched = true;
                i += 3;
            }
            else
            {
                if (ch == lo) matched = true;
                i++;
            }
        }
        if (i >= p.Length) return null;
        return matched != negate ? i + 1 : -1;
    }
}
