namespace Supervisor.Cgroups.V1;

/// <summary>v1 cpuacct controller: accounting only (no [Resources] key maps here).</summary>
internal sealed class Cpuacct(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("cpuacct");

    public string Name => "cpuacct";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        if (r.Read(dir, "cpuacct.usage"))
        {
            s.CpuUsageNs = r.Single(out _);
        }
        if (r.UsageOnly)
        {
            return;
        }
        // usage_user/usage_sys are in ns (cpuacct.stat has the same split in coarse USER_HZ ticks).
        if (r.Read(dir, "cpuacct.usage_user", optional: true))
        {
            s.CpuUserNs = r.Single(out _);
        }
        if (r.Read(dir, "cpuacct.usage_sys", optional: true))
        {
            s.CpuSystemNs = r.Single(out _);
        }
    }
}
