using System.Runtime.InteropServices;
using Supervisor.Linux.Proc;
using Supervisor.Linux.Native;
using Supervisor.Sandbox.Capabilities;

namespace Supervisor.Sandbox.Launch;

/// <summary>Turns a helper (step, errno, detail) into "cannot …: cause".</summary>
internal static class StepMessages
{
    public static string Describe(ExecPlan plan, SetupStep step, int errno, uint detail)
    {
        string cause = errno == 0 ? "the helper stopped unexpectedly" : Marshal.GetPInvokeErrorMessage(errno);
        string what = step switch
        {
            SetupStep.StartHelper => "start the exec helper",
            SetupStep.ReadPlan => "hand the plan to the exec helper",
            SetupStep.Setsid => "start a new session",
            SetupStep.CgroupJoin => CgroupWhat(plan, detail),
            SetupStep.NetnsJoin => $"join network namespace '{plan.NetworkNamespacePath}'",
            SetupStep.Unshare => $"create namespaces ({plan.Namespaces})",
            SetupStep.Clone => $"create namespaces ({plan.Namespaces})",
            SetupStep.UserNamespaceMap => "write the user namespace id maps",
            SetupStep.MountPrivate => "make mount propagation private",
            SetupStep.Mount or SetupStep.PivotRoot =>
                detail < plan.Mounts.Length ? $"apply mount operation #{detail} ({plan.Mounts[(int)detail].Describe()})" : "apply a mount operation",
            SetupStep.Hostname => $"set hostname '{plan.Hostname}'",
            SetupStep.Loopback => "bring up the loopback interface",
            SetupStep.Rlimit => $"set {RlimitWhat(plan, detail)}",
            SetupStep.CapabilityBounding => $"drop {CapabilityTable.NameOf((int)detail)} from the bounding set",
            SetupStep.SecureBits => "set securebits",
            SetupStep.SetGroups => "set supplementary groups",
            SetupStep.SetGid => $"switch to group id {detail}",
            SetupStep.SetUid => $"switch to user id {detail}",
            SetupStep.Capset => "set the capability sets",
            SetupStep.CapabilityAmbient => $"raise {CapabilityTable.NameOf((int)detail)} in the ambient set",
            SetupStep.Chdir => $"change directory to '{plan.WorkingDirectory}'",
            SetupStep.NoNewPrivileges => "set no_new_privs",
            SetupStep.LsmNotEnabled or SetupStep.LsmExecLabel => LsmWhat(plan),
            SetupStep.Seccomp => "load the seccomp filter",
            SetupStep.Exec => $"execute '{plan.Path}'",
            SetupStep.ForkService => "fork the service under the namespace's init",
            SetupStep.TimeNamespace => "create the time namespace",
            SetupStep.InitSignals => "block signals for the namespace's init",
            SetupStep.Keyring => $"create a new session keyring{(plan.Identity is { } id ? $" for user id {id.Uid}" : "")}",
            SetupStep.KeyringLinkUser => "link the user keyring into the new session keyring",
            SetupStep.Nice or SetupStep.Sched or SetupStep.IoPriority or SetupStep.OomScoreAdjust or SetupStep.SigPipe => ProcessWhat(plan, step),
            SetupStep.Tty => $"make the terminal on stdin the controlling terminal (StandardInput={(plan.Terminal switch { TerminalMode.Force => "tty-force", TerminalMode.Fail => "tty-fail", _ => "tty" })})",
            SetupStep.ListenFds => $"pass {detail} listening socket(s) as fds 3.. (LISTEN_FDS)",
            _ => $"complete setup step {(uint)step}",
        };
        if (step == SetupStep.LsmNotEnabled)
            cause = $"{(plan.Lsm?.Kind == LsmKind.SELinux ? "SELinux" : "AppArmor")} is not enabled on this host";
        if (step == SetupStep.Sched && errno == 1 /* EPERM */ && plan.Process.SchedPolicy is 1 or 2)
            cause += " (a real-time policy needs CAP_SYS_NICE and, with cgroup v1's cpu controller, a real-time budget in the unit's cgroup: its cpu.rt_runtime_us is 0 unless set)";
        if (step == SetupStep.Tty && errno == 1 /* EPERM */)
            cause += " (another session has it as its controlling terminal; StandardInput=tty-force takes it over)";
        if (step == SetupStep.Rlimit && errno == 1 /* EPERM */)
            cause += RlimitCause((RlimitResource)detail);
        return $"cannot {what}: {cause}";
    }

    /// <summary>"LimitNOFILE=65535" as the unit file says it (soft:hard when they differ).</summary>
    private static string RlimitWhat(ExecPlan plan, uint resource)
    {
        string key = "Limit" + ((RlimitResource)resource).ToString().ToUpperInvariant();
        var limit = plan.ResourceLimits.FirstOrDefault(l => (uint)l.Resource == resource);
        if (limit is null) return key;
        static string Text(ulong v) => v == ResourceLimit.Infinity ? "infinity" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return limit.Soft == limit.Hard ? $"{key}={Text(limit.Hard)}" : $"{key}={Text(limit.Soft)}:{Text(limit.Hard)}";
    }

    /// <summary>
    /// Why setrlimit said EPERM: a hard limit above the supervisor's own needs CAP_SYS_RESOURCE
    /// (setrlimit(2)).
    /// </summary>
    private static string RlimitCause(RlimitResource resource)
    {
        if (HasSysResource())
            return resource == RlimitResource.Nofile && ReadFirstLine("/proc/sys/fs/nr_open") is { } nrOpen
                ? $" (no process may have more than fs.nr_open = {nrOpen} open files)"
                : "";
        return OwnHardLimit(resource) is { } own
            ? $" (the supervisor's own hard limit is {own}; raising a hard limit above it needs CAP_SYS_RESOURCE, which the supervisor does not have)"
            : " (raising a hard limit above the supervisor's own needs CAP_SYS_RESOURCE, which the supervisor does not have)";
    }

    /// <summary>CAP_SYS_RESOURCE (24) in the supervisor's effective set, from /proc/self/status.</summary>
    private static bool HasSysResource()
    {
        const int capSysResource = 24;
        return ProcStatus.TryRead(Environment.ProcessId)?.CapEff is { } eff && (eff & (1UL << capSysResource)) != 0;
    }

    private static string? ReadFirstLine(string path)
    {
        try { return File.ReadLines(path).FirstOrDefault()?.Trim(); }
        catch (IOException) { return null; }
    }

    /// <summary>The supervisor's own hard limit (the helper inherits it), from getrlimit(2).</summary>
    private static string? OwnHardLimit(RlimitResource resource) =>
        Libc.GetRlimit((int)resource, out var limit) != 0 ? null
        : limit.Max == ResourceLimit.Infinity ? "infinity"
        : limit.Max.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>"set Nice=-5": the key and value as the unit says them.</summary>
    private static string ProcessWhat(ExecPlan plan, SetupStep step)
    {
        var p = plan.Process;
        return step switch
        {
            SetupStep.Nice => $"set Nice={p.Nice}",
            SetupStep.Sched => $"set CPUSchedulingPolicy={SchedName(p.SchedPolicy)} with CPUSchedulingPriority={p.SchedPriority}" + (p.SchedResetOnFork ? " and CPUSchedulingResetOnFork" : ""),
            SetupStep.IoPriority => $"set IOSchedulingClass={IoClassName(p.IoPriority >> ProcessAttributes.IoPrioClassShift)} with IOSchedulingPriority={p.IoPriority & 7}",
            SetupStep.OomScoreAdjust => $"set OOMScoreAdjust={p.OomScoreAdjust}",
            _ => "set IgnoreSIGPIPE",
        };
    }

    internal static string SchedName(uint? policy) => policy switch
    {
        1 => "fifo", 2 => "rr", 3 => "batch", 5 => "idle", 0 or null => "other", _ => policy.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    internal static string IoClassName(uint? cls) => cls switch
    {
        1 => "realtime", 2 => "best-effort", 3 => "idle", _ => "none",
    };

    private static string LsmWhat(ExecPlan plan) => plan.Lsm is { } l
        ? (l.Kind == LsmKind.AppArmor ? $"apply AppArmorProfile={l.Value}" : $"apply SELinuxContext={l.Value}")
        : "apply the LSM label";

    private static string CgroupWhat(ExecPlan plan, uint index) => index < plan.CgroupJoins.Length
        ? $"join cgroup '{plan.CgroupJoins[(int)index].Directory}' (writing to '{Path.GetFileName(plan.CgroupJoins[(int)index].File)}')"
        : "join a cgroup";
}
