namespace Supervisor.Cgroups.V2;

/// <summary>v2 pids controller: TasksMax → pids.max ("max" or a count).</summary>
internal sealed class Pids(V2Controllers enabled) : IController
{
    public string Name => "pids";

    public bool Available => enabled.Has(Name);

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, enabled.Why(Name), (ResourceKeys.TasksMax, l.TasksMax is not null));
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
