namespace Supervisor.Cgroups.V1;

/// <summary>The cgroup v1 driver: one directory per hierarchy (memory, cpu, cpuacct, cpuset, pids, blkio, freezer, devices).</summary>
internal sealed class V1Driver : DriverBase
{
    public V1Driver(DriverContext context) : base(context)
    {
        MemoryController = new Memory(context);
        CpusetController = new Cpuset(context);
        FreezerController = new Freezer(context);
        Controllers = [MemoryController, new Cpu(context), new Cpuacct(context), CpusetController, new Pids(context), new Blkio(context), FreezerController, new Devices(context)];
        Hierarchies = context.Layout.V1Mounts.Where(kv => CgroupLayout.V1Controllers.Contains(kv.Key))
            .Select(kv => kv.Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public override int Version => 1;

    internal override IReadOnlyList<IController> Controllers { get; }

    internal Memory MemoryController { get; }

    internal Cpuset CpusetController { get; }

    internal Freezer FreezerController { get; }

    /// <summary>Distinct hierarchy directories we use (co-mounted controllers share one).</summary>
    internal IReadOnlyList<string> Hierarchies { get; }

    internal string? CpusetHierarchy => Context.Layout.V1Mounts.GetValueOrDefault("cpuset");

    public override void PrepareRoot()
    {
        foreach (var h in Hierarchies)
        {
            var dir = Path.Combine(h, Root);
            foreach (var level in Levels(h, Root))
            {
                // Levels above our root belong to whoever delegated it; only our root is created here.
                if (level.Length < dir.Length)
                {
                    if (!Directory.Exists(level))
                    {
                        throw new CgroupException($"prepare cgroup subtree '{dir}' failed: parent '{level}' does not exist");
                    }
                    continue;
                }
                Context.Fs.Mkdir(level);
                if (h == CpusetHierarchy)
                {
                    CpusetController.Inherit(level, Context.Fs);
                }
            }
        }
    }

    /// <summary>hierarchy/a, hierarchy/a/b, … for a relative path a/b/….</summary>
    internal static IEnumerable<string> Levels(string hierarchy, string relative)
    {
        var current = hierarchy;
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            yield return current;
        }
    }

    public override ICgroup Open(CgroupPath path) => new V1Cgroup(this, path);
}
