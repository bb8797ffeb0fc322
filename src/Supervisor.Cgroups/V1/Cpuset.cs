namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 cpuset controller: AllowedCPUs → cpuset.cpus, AllowedMemoryNodes → cpuset.mems. A new v1
/// cpuset cgroup starts with both empty and refuses tasks until they are set, so every level we
/// create gets its parent's values unless the unit declares its own.
/// </summary>
internal sealed class Cpuset(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("cpuset");

    public string Name => "cpuset";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted",
                (ResourceKeys.AllowedCPUs, l.AllowedCPUs is not null), (ResourceKeys.AllowedMemoryNodes, l.AllowedMemoryNodes is not null));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        Add(ResourceKeys.AllowedCPUs, "cpuset.cpus", l.AllowedCPUs);
        Add(ResourceKeys.AllowedMemoryNodes, "cpuset.mems", l.AllowedMemoryNodes);

        void Add(string key, string file, CpuSet? set)
        {
            if (set is null)
            {
                return;
            }
            // An empty set means "not restricted": on v1 that is the parent's set, spelled out.
            var value = set.IsEmpty ? Values.NormaliseCpuSet(CgroupFs.ReadText(Path.Combine(Path.GetDirectoryName(dir)!, file))) : set.ToString();
            into.Add(LimitSetting.Simple(key, Path.Combine(dir, file), value, Values.NormaliseCpuSet));
        }
    }

    /// <summary>Right after mkdir: copy the parent's cpus and mems into an empty new cpuset.</summary>
    public void Inherit(string dir, CgroupFs fs)
    {
        var parent = Path.GetDirectoryName(dir)!;
        foreach (var file in (string[])["cpuset.cpus", "cpuset.mems"])
        {
            var own = CgroupFs.ReadText(Path.Combine(dir, file)).Trim();
            if (own.Length == 0)
            {
                fs.Write(Path.Combine(dir, file), CgroupFs.ReadText(Path.Combine(parent, file)).Trim());
            }
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
    }
}
