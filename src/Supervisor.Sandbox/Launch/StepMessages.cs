using System.Runtime.InteropServices;
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
            SetupStep.Rlimit => $"set resource limit {(RlimitResource)detail}",
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
            _ => $"complete setup step {(uint)step}",
        };
        if (step == SetupStep.LsmNotEnabled)
            cause = $"{(plan.Lsm?.Kind == LsmKind.SELinux ? "SELinux" : "AppArmor")} is not enabled on this host";
        return $"cannot {what}: {cause}";
    }

    private static string LsmWhat(ExecPlan plan) => plan.Lsm is { } l
        ? (l.Kind == LsmKind.AppArmor ? $"apply AppArmorProfile={l.Value}" : $"apply SELinuxContext={l.Value}")
        : "apply the LSM label";

    private static string CgroupWhat(ExecPlan plan, uint index) => index < plan.CgroupJoins.Length
        ? $"join cgroup '{plan.CgroupJoins[(int)index].Directory}' (writing to '{Path.GetFileName(plan.CgroupJoins[(int)index].File)}')"
        : "join a cgroup";
}
