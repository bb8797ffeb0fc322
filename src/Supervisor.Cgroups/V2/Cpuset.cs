namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 cpuset controller: AllowedCPUs → cpuset.cpus, AllowedMemoryNodes → cpuset.mems. Unlike v1 an
/// empty value means "inherit the parent's", so nothing needs copying on creation.
/// </summary>
internal sealed class Cpuset(V2Controllers enabled) : IController
{
    public string Name => "cpuset";

    public bool Available => enabled.Has(Name);

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, enabled.Why(Name),
                (ResourceKeys.AllowedCPUs, l.AllowedCPUs is not null), (ResourceKeys.AllowedMemoryNodes, l.AllowedMemoryNodes is not null));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        if (l.AllowedCPUs is { } cpus)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.AllowedCPUs, Path.Combine(dir, "cpuset.cpus"), cpus.ToString(), Values.NormaliseCpuSet));
        }
        if (l.AllowedMemoryNodes is { } mems)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.AllowedMemoryNodes, Path.Combine(dir, "cpuset.mems"), mems.ToString(), Values.NormaliseCpuSet));
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
    }
}
