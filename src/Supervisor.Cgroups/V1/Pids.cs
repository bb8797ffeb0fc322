namespace Supervisor.Cgroups.V1;

/// <summary>v1 pids controller: TasksMax → pids.max ("max" or a count).</summary>
internal sealed class Pids(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("pids");

    public string Name => "pids";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted", (ResourceKeys.TasksMax, l.TasksMax is not null));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (Available && l.TasksMax is { } max)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.TasksMax, Path.Combine(dir, "pids.max"), Values.CountV2(max), Values.NormaliseCount));
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        if (r.Read(dir, "pids.current"))
        {
            s.TasksCurrent = r.Single(out _);
        }
        if (!r.UsageOnly && r.Read(dir, "pids.max"))
        {
            s.TasksMax = r.LimitValue();
        }
    }
}
