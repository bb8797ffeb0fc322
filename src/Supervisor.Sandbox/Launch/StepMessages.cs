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
            SetupStep.SeccompNotify => "start the process that hands the seccomp listener to the supervisor",
            SetupStep.Exec => $"execute '{plan.Path}'",
            SetupStep.ForkService => "fork the service under the namespace's init",
            SetupStep.TimeNamespace => "create the time namespace",
            SetupStep.InitSignals => "block signals for the namespace's init",
            SetupStep.Keyring => $"create a new session keyring{(plan.Identity is { } id ? $" for user id {id.Uid}" : "")}",
            SetupStep.KeyringLinkUser => "link the user keyring into the new session keyring",
            SetupStep.Nice or SetupStep.Sched or SetupStep.IoPriority or SetupStep.OomScoreAdjust or SetupStep.SigPipe => ProcessWhat(plan, step),
            SetupStep.Tty => $"make the terminal on stdin the controlling terminal (StandardInput={(plan.Terminal switch { TerminalMode.Force => "tty-force", TerminalMode.Fail => "tty-fail", _ => "tty" })})",
            SetupStep.ListenFds => $"pass {detail} listening socket(s) as fds 3.. (LISTEN_FDS)",
            SetupStep.LandlockRuleset or SetupStep.LandlockPath or SetupStep.LandlockPort or SetupStep.LandlockRestrict => LandlockWhat(plan, step, detail),
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
        cause += LandlockCause(plan, step, errno);
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

    /// <summary>Which Landlock rule or call failed, with the key and value the unit wrote.</summary>
    private static string LandlockWhat(ExecPlan plan, SetupStep step, uint index)
    {
        var ruleset = plan.Landlock;
        return step switch
        {
            SetupStep.LandlockRuleset => $"create the Landlock ruleset ({ruleset?.Describe()})",
            SetupStep.LandlockPath when ruleset is not null && index < ruleset.Paths.Length =>
                $"add the Landlock rule for '{ruleset.Paths[(int)index].Path}' ({LandlockPathKey(ruleset.Paths[(int)index])})",
            SetupStep.LandlockPort when ruleset is not null && index < ruleset.Ports.Length =>
                $"add the Landlock rule for TCP port {ruleset.Ports[(int)index].Port}",
            SetupStep.LandlockRestrict => "restrict the service to its Landlock ruleset (landlock_restrict_self)",
            _ => "add a Landlock rule",
        };
    }

    private static string LandlockPathKey(LandlockPathRule rule) =>
        (rule.Access & LandlockAccess.WriteFile) != 0 ? "LandlockReadWritePaths"
        : (rule.Access & LandlockAccess.Execute) != 0 ? "LandlockExecutePaths" : "LandlockReadOnlyPaths";

    /// <summary>What a Landlock errno means here: no Landlock at all, or the service's own program outside its execute paths.</summary>
    private static string LandlockCause(ExecPlan plan, SetupStep step, int errno)
    {
        if (step == SetupStep.LandlockRuleset && errno is 38 /* ENOSYS */ or 95 /* EOPNOTSUPP */)
            return " (Landlock is not available on this kernel)";
        if (step == SetupStep.Exec && errno == 13 /* EACCES */ && plan.Landlock is { HandledFs: not 0 })
            return " (with Landlock the program and its ELF interpreter, e.g. /lib64/ld-linux-x86-64.so.2, must be below LandlockExecutePaths)";
        return "";
    }

    private static string LsmWhat(ExecPlan plan) => plan.Lsm is { } l
        ? (l.Kind == LsmKind.AppArmor ? $"apply AppArmorProfile={l.Value}" : $"apply SELinuxContext={l.Value}")
        : "apply the LSM label";

    private static string CgroupWhat(ExecPlan plan, uint index) => index < plan.CgroupJoins.Length
        ? $"join cgroup '{plan.CgroupJoins[(int)index].Directory}' (writing to '{Path.GetFileName(plan.CgroupJoins[(int)index].File)}')"
        : "join a cgroup";
}
