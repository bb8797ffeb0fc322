using Supervisor.Units.Keys;

namespace Supervisor.Runtime.Conditions;

/// <summary>The path kinds: what stat, lstat and a directory listing say, following symlinks as access(2) and stat(2) do.</summary>
public static class Paths
{
    public static bool Exists(string p)
    {
        var info = new FileInfo(p);
        if (info.LinkTarget is not null)
            return info.ResolveLinkTarget(returnFinalTarget: true) is { } t && (File.Exists(t.FullName) || Directory.Exists(t.FullName));
        return File.Exists(p) || Directory.Exists(p);
    }

    public static bool IsSymlink(string p) => new FileInfo(p).LinkTarget is not null;

    public static bool FileNotEmpty(string p) => File.Exists(p) && !Directory.Exists(p) && new FileInfo(Final(p)).Length > 0;

    public static bool FileIsExecutable(string p) =>
        File.Exists(p) && !Directory.Exists(p)
        && (File.GetUnixFileMode(Final(p)) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    /// <summary>systemd's dir_is_empty(ignore_hidden_or_backup): entries starting with "." or ending with "~" (and package managers' backups) do not count.</summary>
    public static bool DirectoryNotEmpty(string p) =>
        Directory.Exists(p) && Directory.EnumerateFileSystemEntries(p).Select(Path.GetFileName).Any(n => n is not null && !HiddenOrBackup(n));

    private static readonly string[] BackupSuffixes = ["~", ".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-bak", ".dpkg-backup", ".dpkg-remove", ".ucf-new", ".ucf-old", ".ucf-dist", ".swp", ".bak", ".old", ".new"];

    private static bool HiddenOrBackup(string name) => name.StartsWith('.') || BackupSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal));

    /// <summary>Some path matches the glob, component by component (a component without * ? [ is taken as it is).</summary>
    public static bool GlobMatchesAny(string pattern)
    {
        var parts = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return Walk("/", parts, 0);
    }

    private static bool Walk(string dir, string[] parts, int i)
    {
        if (i == parts.Length) return Exists(dir);
        if (!Glob.HasMagic(parts[i])) return Walk(Path.Combine(dir, parts[i]), parts, i + 1);
        if (!Directory.Exists(dir)) return false;
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            var name = Path.GetFileName(entry);
            // As glob(3): a leading dot is matched only by a pattern with one.
            if (name.StartsWith('.') && !parts[i].StartsWith('.')) continue;
            if (Glob.Matches(parts[i], name) && Walk(entry, parts, i + 1)) return true;
        }
        return false;
    }

    /// <summary>The path with every symlink resolved (realpath(3)); the path as it is when a component is missing.</summary>
    public static string Real(string p) => Supervisor.Linux.Files.RealPath.Resolve(p);

    private static string Final(string p) => Real(p);
}

/// <summary>/proc/self/mountinfo: which paths are mount points, and which mounts are read-only.</summary>
public static class Mounts
{
    private sealed record Mount(string Point, bool ReadOnly);

    private static List<Mount> Read()
    {
        var mounts = new List<Mount>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            var dash = Array.IndexOf(f, "-");
            if (f.Length < 7 || dash < 6 || dash + 3 >= f.Length) continue;
            bool ro = f[5].Split(',').Contains("ro") || f[dash + 3].Split(',').Contains("ro");
            mounts.Add(new Mount(Unescape(f[4]), ro));
        }
        return mounts;
    }

    /// <summary>Every mount point now mounted in this mount namespace.</summary>
    public static IReadOnlySet<string> Points() => Read().Select(m => m.Point).ToHashSet(StringComparer.Ordinal);

    /// <summary>"\040" and its like, as the kernel escapes space, tab, newline and backslash (in mountinfo and in fstab).</summary>
    public static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s[(i + 1)..(i + 4)].All(c => c is >= '0' and <= '7'))
            {
                sb.Append((char)Convert.ToInt32(s[(i + 1)..(i + 4)], 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    public static bool IsMountPoint(string p)
    {
        if (!Paths.Exists(p)) return false;
        var real = Paths.Real(p);
        return Read().Any(m => m.Point == real);
    }

    /// <summary>The mount the path is on (the last mounted over the longest matching mount point) is not read-only.</summary>
    public static bool IsReadWrite(string p)
    {
        if (!Paths.Exists(p)) return false;
        var real = Paths.Real(p);
        Mount? on = null;
        foreach (var m in Read())
            if (Under(real, m.Point) && (on is null || m.Point.Length >= on.Point.Length)) on = m;
        return on is { ReadOnly: false };
    }

    /// <summary>The mount the path is on is read-only (the path must exist).</summary>
    public static bool IsReadOnly(string p) => Paths.Exists(p) && !IsReadWrite(p);

    private static bool Under(string path, string point) =>
        point == "/" || path == point || path.StartsWith(point + "/", StringComparison.Ordinal);
}

/// <summary>ConditionSecurity: what each technology leaves in /sys when it is on.</summary>
public static class SecurityFacts
{
    private const string SecureBootVariable = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

    public static bool IsOn(string name) => name switch
    {
        "selinux" => File.Exists("/sys/fs/selinux/enforce"),
        "apparmor" => File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").Trim() == "Y",
        "tomoyo" => File.Exists("/sys/kernel/security/tomoyo/version"),
        "ima" => Directory.Exists("/sys/kernel/security/ima"),
        "smack" => Directory.Exists("/sys/fs/smackfs") && Directory.EnumerateFileSystemEntries("/sys/fs/smackfs").Any(),
        // systemd opens a NETLINK_AUDIT socket; the kernel's audit support shows as /proc/self/loginuid.
        "audit" => File.Exists("/proc/self/loginuid"),
        "uefi-secureboot" => File.Exists(SecureBootVariable) && File.ReadAllBytes(SecureBootVariable) is { Length: > 4 } b && b[^1] == 1,
        "tpm2" => Directory.Exists("/sys/class/tpmrm") && Directory.EnumerateFileSystemEntries("/sys/class/tpmrm").Any(),
        _ => false,
    };
}

/// <summary>ConditionACPower, as systemd's on_ac_power(): a mains supply online, or no mains supply at all.</summary>
public static class PowerFacts
{
    public static bool OnAcPower(string root = "/sys/class/power_supply")
    {
        if (!Directory.Exists(root)) return true;
        bool online = false, offline = false;
        foreach (var supply in Directory.EnumerateFileSystemEntries(root))
        {
            var type = Path.Combine(supply, "type");
            if (!File.Exists(type) || File.ReadAllText(type).Trim() != "Mains") continue;
            var on = Path.Combine(supply, "online");
            if (!File.Exists(on)) continue;
            if (File.ReadAllText(on).Trim() == "1") online = true; else offline = true;
        }
        return online || !offline;
    }
}

/// <summary>ConditionFirmware: uefi, device-tree, device-tree-compatible(VALUE).</summary>
public static class FirmwareFacts
{
    public static bool Is(string p)
    {
        if (p == "uefi") return Directory.Exists("/sys/firmware/efi");
        if (p == "device-tree") return Directory.Exists("/sys/firmware/devicetree");
        if (p.StartsWith("device-tree-compatible(", StringComparison.Ordinal) && p.EndsWith(')'))
        {
            var want = p["device-tree-compatible(".Length..^1];
            const string file = "/proc/device-tree/compatible";
            return File.Exists(file) && File.ReadAllText(file).Split('\0').Contains(want);
        }
        return false;
    }
}
