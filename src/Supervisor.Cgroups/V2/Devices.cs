using Supervisor.Cgroups.Bpf;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 has no devices controller: DevicePolicy/DeviceAllow become a BPF_PROG_TYPE_CGROUP_DEVICE
/// program attached to the unit's cgroup (systemd's bpf-devices). A slice's program applies to
/// every unit below it as well: the kernel runs each level's program, and all must allow.
/// </summary>
internal sealed class Devices(DriverContext ctx) : IProgramController
{
    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!l.HasDevices)
        {
            return;
        }
        foreach (var why in DeviceRuleSet.Resolve(l, ctx)?.Ignored ?? [])
        {
            into.Add(new Unhonoured(ResourceKeys.DeviceAllow, why, UnhonouredKind.Ignored));
        }
    }

    public void AddPrograms(ResourceLimits l, CgroupPath path, List<ProgramSetting> into)
    {
        if (!l.HasDevices)
        {
            return;
        }
        var set = DeviceRuleSet.Resolve(l, ctx);
        into.Add(new ProgramSetting(l.DeviceAllow is { Count: > 0 } ? ResourceKeys.DeviceAllow : ResourceKeys.DevicePolicy,
            Libc.BPF_CGROUP_DEVICE, set is null ? null : DeviceProgram.Build(set.Rules)));
    }
}
