using Supervisor.Cgroups.Bpf;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.V2;

/// <summary>
/// SocketBindAllow/SocketBindDeny → BPF_CGROUP_INET4_BIND / INET6_BIND programs on the cgroup
/// (systemd's socket-bind), one per address family that a rule concerns. On a slice they apply to
/// every unit below it too: each level's program runs, and all must allow.
/// </summary>
internal sealed class SocketBind : IProgramController
{
    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
    }

    public void AddPrograms(ResourceLimits l, CgroupPath path, List<ProgramSetting> into)
    {
        if (!l.HasSocketBind)
        {
            return;
        }
        var allow = l.SocketBindAllow ?? [];
        var deny = l.SocketBindDeny ?? [];
        var key = deny.Count > 0 ? ResourceKeys.SocketBindDeny : ResourceKeys.SocketBindAllow;
        foreach (var v6 in (bool[])[false, true])
        {
            into.Add(new ProgramSetting(key, v6 ? Libc.BPF_CGROUP_INET6_BIND : Libc.BPF_CGROUP_INET4_BIND,
                SocketBindProgram.Concerns(v6, allow, deny) ? SocketBindProgram.Build(v6, allow, deny) : null));
        }
    }
}
