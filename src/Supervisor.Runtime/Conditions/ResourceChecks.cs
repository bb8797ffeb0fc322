using Supervisor.Units.Keys;

namespace Supervisor.Runtime.Conditions;

/// <summary>
/// The host-resource conditions of systemd 252 (condition.c): OSRelease, Memory, CPUs, CPUFeature,
/// ControlGroupController, the *Pressure kinds and PathIsEncrypted. The expressions are parsed by
/// <see cref="ConditionExpressions"/>; what the host says comes from <see cref="HostFacts"/>.
/// </summary>
public static class ResourceChecks
{
    public static bool OsRelease(string p, IReadOnlyDictionary<string, string> release) =>
        ConditionExpressions.OsReleaseWords(p).All(word => ConditionExpressions.ParseOsReleaseWord(word) is { } e
            && ConditionExpressions.CompareOsRelease(e.Op, release.GetValueOrDefault(e.Key, ""), e.Value));

    public static bool Memory(string p, ulong physical) =>
        ConditionExpressions.ParseMemory(p) is { } e && ConditionExpressions.Holds(e.Op, physical.CompareTo(e.Bytes));

    public static bool Cpus(string p, int cpus) =>
        ConditionExpressions.ParseCpus(p) is { } e && ConditionExpressions.Holds(e.Op, ((long)cpus).CompareTo(e.Count));

    /// <summary>The controller names systemd 252 knows (cgroup_controller_table); others are ignored.</summary>
    private static readonly string[] KnownControllers =
    [
        "cpu", "cpuacct", "cpuset", "io", "blkio", "memory", "devices", "pids",
        "bpf-firewall", "bpf-devices", "bpf-foreign", "bpf-socket-bind", "bpf-restrict-network-interfaces",
    ];

    /// <summary>Every known name available ("bpf-*" only on the unified hierarchy), "v1"/"v2" the hierarchy; nothing known: true, as systemd.</summary>
    public static bool ControlGroupController(string p, bool unified, IReadOnlySet<string> available)
    {
        foreach (var word in p.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (word == "v2" && !unified) return false;
            if (word == "v1" && unified) return false;
            if (!KnownControllers.Contains(word)) continue;
            bool ok = word.StartsWith("bpf-", StringComparison.Ordinal) ? unified : available.Contains(word);
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>
    /// The "full" line of /proc/pressure/KIND (else "some") at the threshold's window is at most the
    /// threshold; a kernel without PSI (no file) passes, as in systemd.
    /// </summary>
    public static bool Pressure(string p, string file)
    {
        if (ConditionExpressions.ParsePressure(p) is not { } limit) return false;
        if (!File.Exists(file)) return true;
        var lines = File.ReadAllLines(file);
        var line = lines.FirstOrDefault(l => l.StartsWith("full ", StringComparison.Ordinal))
            ?? lines.FirstOrDefault(l => l.StartsWith("some ", StringComparison.Ordinal));
        if (line is null) return true;
        foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (field.StartsWith(limit.Field + "=", StringComparison.Ordinal)
                && decimal.TryParse(field[(limit.Field.Length + 1)..], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var avg))
                return avg <= limit.Percent;
        return true;
    }

    /// <summary>
    /// dm-crypt below the path: its device's sysfs directory (a partition's whole disk first) has
    /// dm/uuid starting with "CRYPT-", or a device it is stacked on does, as systemd's blockdev_is_encrypted.
    /// </summary>
    public static bool PathIsEncrypted(string p, (uint Major, uint Minor)? device, string sysDevBlock = "/sys/dev/block")
    {
        if (device is not { } d || d.Major == 0) return false;
        var dir = Path.Combine(sysDevBlock, $"{d.Major}:{d.Minor}");
        if (!Directory.Exists(dir)) return false;
        var real = Linux.Files.RealPath.Resolve(dir);
        if (File.Exists(Path.Combine(real, "partition"))) real = Path.GetDirectoryName(real)!;
        return Encrypted(real, depth: 8);
    }

    private static bool Encrypted(string dir, int depth)
    {
        var uuid = Path.Combine(dir, "dm", "uuid");
        if (File.Exists(uuid) && File.ReadAllText(uuid).StartsWith("CRYPT-", StringComparison.Ordinal)) return true;
        var slaves = Path.Combine(dir, "slaves");
        if (depth == 0 || !Directory.Exists(slaves)) return false;
        return Directory.EnumerateFileSystemEntries(slaves).Any(s => Encrypted(Linux.Files.RealPath.Resolve(s), depth - 1));
    }

    /// <summary>os-release(5): /etc/os-release, else /usr/lib/os-release; KEY=VALUE lines, the value unquoted.</summary>
    public static IReadOnlyDictionary<string, string> ReadOsRelease(string etc = "/etc/os-release", string usr = "/usr/lib/os-release")
    {
        var file = File.Exists(etc) ? etc : usr;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(file)) return values;
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Trim();
            int eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0) continue;
            var v = line[(eq + 1)..].Trim();
            if (v.Length >= 2 && (v[0] is '"' or '\'') && v[^1] == v[0]) v = v[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
            values[line[..eq]] = v;
        }
        return values;
    }

    /// <summary>MemTotal, lowered to the top cgroup's memory limit when there is one (a container's), as systemd's physical_memory().</summary>
    public static ulong PhysicalMemory(string meminfo = "/proc/meminfo", string cgroupRoot = "/sys/fs/cgroup")
    {
        ulong total = ulong.MaxValue;
        foreach (var line in File.ReadLines(meminfo))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                total = ulong.Parse(line["MemTotal:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
                break;
            }
        foreach (var limitFile in (string[])[Path.Combine(cgroupRoot, "memory.max"), Path.Combine(cgroupRoot, "memory", "memory.limit_in_bytes")])
            if (File.Exists(limitFile) && ulong.TryParse(File.ReadAllText(limitFile).Trim(), out var limit) && limit < total)
                total = limit;
        return total;
    }

    /// <summary>The CPUs in this process's affinity mask (/proc/self/status Cpus_allowed_list: "0-3,6").</summary>
    public static int AllowedCpus(string status = "/proc/self/status")
    {
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
        if (line is null) return Environment.ProcessorCount;
        int count = 0;
        foreach (var range in line["Cpus_allowed_list:".Length..].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = range.Split('-');
            count += ends.Length == 2 ? int.Parse(ends[1]) - int.Parse(ends[0]) + 1 : 1;
        }
        return count;
    }

    /// <summary>The flags line of /proc/cpuinfo (x86: "flags", arm64: "Features").</summary>
    public static IReadOnlySet<string> CpuFlags(string cpuinfo = "/proc/cpuinfo")
    {
        var line = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal) || l.StartsWith("Features", StringComparison.Ordinal));
        return line is null ? new HashSet<string>() : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }
}
