using System.Collections.Immutable;
using Supervisor.Linux.Proc;
using Supervisor.Sandbox.Capabilities;

namespace Supervisor.Sandbox.Compiler;

/// <summary>Facts about the host the plan depends on, detected once.</summary>
/// <param name="CapLastCap">/proc/sys/kernel/cap_last_cap.</param>
/// <param name="SupervisorCapabilities">The supervisor's own permitted set: a plan cannot grant more.</param>
public sealed record HostFacts(int CapLastCap, ulong SupervisorCapabilities, bool AppArmorEnabled, bool SELinuxEnabled)
{
    /// <summary>The kernel's Landlock ABI (Supervisor.Linux.Landlock); 0: no Landlock.</summary>
    public int LandlockAbi { get; init; }

    /// <summary>Why <see cref="LandlockAbi"/> is 0, for messages.</summary>
    public string LandlockUnavailable { get; init; } = "Landlock is not available on this kernel";

    public static HostFacts Detect()
    {
        return new HostFacts(
            CapabilityTable.HostLastCap(),
            ProcStatus.ReadSelf().CapPrm ?? throw new FormatException("/proc/self/status has no CapPrm line"),
            File.Exists("/sys/module/apparmor/parameters/enabled") &&
                File.ReadAllText("/sys/module/apparmor/parameters/enabled").StartsWith('Y'),
            File.Exists("/sys/fs/selinux/enforce"))
        {
            LandlockAbi = Supervisor.Linux.Landlock.Abi,
            LandlockUnavailable = Supervisor.Linux.Landlock.Unavailable ?? "",
        };
    }
}

/// <summary>A dynamic user: the name it was allocated for and its ids (gid = uid, as systemd gives them).</summary>
public sealed record DynamicUserAllocation(string Name, uint Uid, uint Gid);

/// <summary>Everything besides the unit that goes into its plan.</summary>
public sealed record CompileContext
{
    /// <summary>cgroup.procs files of the unit's cgroup(s), from the cgroup driver.</summary>
    public ImmutableArray<string> CgroupProcsFiles { get; init; } = [];
    /// <summary>$NOTIFY_SOCKET for Type=notify services.</summary>
    public string? NotifySocket { get; init; }
    /// <summary>The unit's stdin/stdout/stderr (its log pipes).</summary>
    public StdioFds Stdio { get; init; } = StdioFds.Null;
    public required HostFacts Host { get; init; }
    public required UserDatabase Users { get; init; }
    /// <summary>
    /// With Namespaces=["user"], ids 0..65535 in the service map to host ids starting here:
    /// service root is host uid/gid 100000, an unprivileged id no host account uses
    /// (the range /etc/subuid conventionally gives the first user).
    /// </summary>
    public uint UserNamespaceBase { get; init; } = 100000;
    public uint UserNamespaceSize { get; init; } = 65536;
    /// <summary>
    /// The uid/gid pair the runtime allocated to this unit for DynamicUser (see
    /// <see cref="ExecPlanCompiler.DynamicUserToAllocate"/>); null when none is allocated.
    /// </summary>
    public DynamicUserAllocation? DynamicUser { get; init; }

    public static CompileContext ForHost() => new() { Host = HostFacts.Detect(), Users = UserDatabase.Load() };
}
