using Supervisor.Cgroups.Bpf;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.V2;

/// <summary>
/// IPAddressAllow/IPAddressDeny → ingress and egress BPF_PROG_TYPE_CGROUP_SKB programs on the
/// unit's cgroup (systemd's bpf-firewall). As in systemd, slices get no program of their own: a
/// unit's lists already include those of the slices above it
/// (<see cref="ResourceLimits.WithSliceAddressLists"/>), so a unit's allow list can open what its
/// slice denies.
/// </summary>
internal sealed class Firewall : IProgramController
{
    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
    }

    public void AddPrograms(ResourceLimits l, CgroupPath path, List<ProgramSetting> into)
    {
        if (!l.HasFirewall || IsSlice(path))
        {
            return;
        }
        var allow = l.IPAddressAllow ?? [];
        var deny = l.IPAddressDeny ?? [];
        var key = deny.Count > 0 ? ResourceKeys.IPAddressDeny : ResourceKeys.IPAddressAllow;
        if (allow.Count == 0 && deny.Count == 0)
        {
            into.Add(new ProgramSetting(key, Libc.BPF_CGROUP_INET_INGRESS, null));
            into.Add(new ProgramSetting(key, Libc.BPF_CGROUP_INET_EGRESS, null));
            return;
        }
        var maps = FirewallProgram.Maps(allow, deny);
        into.Add(new ProgramSetting(key, Libc.BPF_CGROUP_INET_INGRESS, FirewallProgram.Build(ingress: true, maps)));
        into.Add(new ProgramSetting(key, Libc.BPF_CGROUP_INET_EGRESS, FirewallProgram.Build(ingress: false, maps)));
    }

    /// <summary>A slice (or the subtree root): an inner node of the tree, where no process runs.</summary>
    internal static bool IsSlice(CgroupPath path) =>
        path.Segments.Count == 0 || path.Segments[^1].EndsWith(".slice", StringComparison.Ordinal);
}
