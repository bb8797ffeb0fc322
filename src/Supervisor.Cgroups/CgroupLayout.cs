using System.Text;

namespace Supervisor.Cgroups;

public enum CgroupMode
{
    /// <summary>Pure cgroup v2: cgroup2 mounted at the cgroupfs root.</summary>
    Unified,

    /// <summary>v1 controllers plus a cgroup2 mount (usually empty) at &lt;root&gt;/unified.</summary>
    Hybrid,

    /// <summary>Only v1 hierarchies.</summary>
    Legacy,
}

/// <summary>
/// What the host's cgroupfs looks like: mode, where each controller lives, which controllers can be
/// used, and the supervisor's own cgroup. Detected from the directory layout under a root that is
/// a parameter, so the same code runs against a fake cgroupfs in tests.
/// </summary>
public sealed class CgroupLayout
{
    /// <summary>
    /// v1 controllers this library drives (net_cls and friends are not used). Every unit gets a
    /// devices cgroup, with or without device rules, so a DevicePolicy added later applies live.
    /// </summary>
    public static readonly IReadOnlyList<string> V1Controllers = ["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"];

    /// <summary>v2 controllers this library drives.</summary>
    public static readonly IReadOnlyList<string> V2Controllers = ["memory", "cpu", "cpuset", "pids", "io"];

    private CgroupLayout(string fsRoot, CgroupMode mode, string? unifiedMount,
        IReadOnlyDictionary<string, string> v1Mounts, IReadOnlySet<string> available,
        IReadOnlyDictionary<string, string> ownCgroup)
    {
        FsRoot = fsRoot;
        Mode = mode;
        UnifiedMount = unifiedMount;
        V1Mounts = v1Mounts;
        AvailableControllers = available;
        OwnCgroup = ownCgroup;
    }

    public string FsRoot { get; }

    public CgroupMode Mode { get; }

    /// <summary>True when units are driven with the v2 driver.</summary>
    public bool IsV2 => Mode == CgroupMode.Unified;

    /// <summary>The cgroup2 mount: the root itself on a unified host, &lt;root&gt;/unified on a hybrid one.</summary>
    public string? UnifiedMount { get; }

    /// <summary>v1 controller name → hierarchy directory (co-mounted controllers share one).</summary>
    public IReadOnlyDictionary<string, string> V1Mounts { get; }

    /// <summary>
    /// Controllers usable at the top: v1 the mounted hierarchies, v2 the root's cgroup.controllers.
    /// </summary>
    public IReadOnlySet<string> AvailableControllers { get; }

    /// <summary>
    /// The calling process's cgroup per controller, from /proc/self/cgroup ("" keys the v2 entry,
    /// "name=systemd" the named hierarchy).
    /// </summary>
    public IReadOnlyDictionary<string, string> OwnCgroup { get; }

    public static CgroupLayout Detect(string fsRoot = "/sys/fs/cgroup", string procSelfCgroup = "/proc/self/cgroup")
    {
        fsRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(fsRoot));
        if (!Directory.Exists(fsRoot))
        {
            throw new CgroupLayoutException($"detect cgroup layout at '{fsRoot}' failed: no such directory (is cgroupfs mounted?)");
        }
        var own = ParseProcCgroup(procSelfCgroup);

        if (File.Exists(Path.Combine(fsRoot, "cgroup.controllers")))
        {
            var available = ReadControllerList(Path.Combine(fsRoot, "cgroup.controllers"));
            return new CgroupLayout(fsRoot, CgroupMode.Unified, fsRoot, new Dictionary<string, string>(), available, own);
        }

        var mounts = new Dictionary<string, string>(StringComparer.Ordinal);
        string? unified = null;
        foreach (var dir in Directory.EnumerateDirectories(fsRoot).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            if (!File.Exists(Path.Combine(dir, "cgroup.procs")))
            {
                continue;
            }
            if (File.Exists(Path.Combine(dir, "cgroup.controllers")))
            {
                unified = dir;
                continue;
            }
            // Co-mounted hierarchies appear as "cpu,cpuacct" with "cpu" and "cpuacct" symlinks;
            // resolve links so both names map to one real directory.
            var target = new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir;
            foreach (var controller in name.Split(','))
            {
                if (V1Controllers.Contains(controller) && !mounts.ContainsKey(controller))
                {
                    mounts[controller] = target;
                }
            }
        }
        if (mounts.Count == 0 && unified is null)
        {
            throw new CgroupLayoutException($"detect cgroup layout at '{fsRoot}' failed: neither cgroup.controllers nor any v1 controller hierarchy found");
        }
        if (mounts.Count == 0)
        {
            // cgroup2 mounted below the root with no v1 controllers: still a pure v2 host.
            var available = ReadControllerList(Path.Combine(unified!, "cgroup.controllers"));
            return new CgroupLayout(unified!, CgroupMode.Unified, unified, mounts, available, own);
        }
        return new CgroupLayout(fsRoot, unified is null ? CgroupMode.Legacy : CgroupMode.Hybrid, unified, mounts,
            new HashSet<string>(mounts.Keys, StringComparer.Ordinal), own);
    }

    /// <summary>
    /// The subtree to use when running under systemd with Delegate=yes: our own cgroup (systemd
    /// hands the whole service cgroup over). Null when not running as a systemd service.
    /// </summary>
    public string? DelegatedSubtree()
    {
        if (Environment.GetEnvironmentVariable("INVOCATION_ID") is null)
        {
            return null;
        }
        var key = IsV2 ? "" : "name=systemd";
        return OwnCgroup.TryGetValue(key, out var path) && path.EndsWith(".service", StringComparison.Ordinal)
            ? path.TrimStart('/')
            : null;
    }

    /// <summary>One line for the log and `supervisor status`.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(Mode switch
        {
            CgroupMode.Unified => $"cgroup v2 (unified at {UnifiedMount})",
            CgroupMode.Hybrid => $"cgroup v1 (hybrid: v1 controllers at {FsRoot}, cgroup2 at {UnifiedMount} unused)",
            _ => $"cgroup v1 (legacy at {FsRoot})",
        });
        sb.Append("; controllers: ");
        sb.Append(AvailableControllers.Count == 0 ? "none" : string.Join(' ', AvailableControllers.Order(StringComparer.Ordinal)));
        var ownKey = IsV2 ? "" : OwnCgroup.ContainsKey("memory") ? "memory" : OwnCgroup.Keys.FirstOrDefault();
        if (ownKey is not null && OwnCgroup.TryGetValue(ownKey, out var ownPath))
        {
            sb.Append("; own cgroup: ").Append(ownKey.Length == 0 ? "" : ownKey + ":").Append(ownPath);
        }
        return sb.ToString();
    }

    internal static IReadOnlySet<string> ReadControllerList(string file)
    {
        var text = CgroupFs.TryReadText(file, out _) ?? "";
        return new HashSet<string>(text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
    }

    /// <summary>Parses /proc/PID/cgroup: "hierarchy-ID:controller-list:path" per line.</summary>
    public static IReadOnlyDictionary<string, string> ParseProcCgroup(string file)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(file))
        {
            return result;
        }
        foreach (var line in File.ReadAllLines(file))
        {
            var first = line.IndexOf(':', StringComparison.Ordinal);
            var second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
            {
                continue;
            }
            var controllers = line[(first + 1)..second];
            var path = line[(second + 1)..];
            if (controllers.Length == 0)
            {
                result[""] = path;
                continue;
            }
            foreach (var c in controllers.Split(','))
            {
                result[c] = path;
            }
        }
        return result;
    }
}
