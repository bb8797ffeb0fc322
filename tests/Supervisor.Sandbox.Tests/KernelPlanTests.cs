using Supervisor.Sandbox.Capabilities;
using static Supervisor.Sandbox.Tests.KernelSeccompTests;

namespace Supervisor.Sandbox.Tests;

/// <summary>What the kernel-surface directives put into the plan besides seccomp: capabilities, namespaces, mounts.</summary>
public class KernelPlanTests
{
    private static ulong Cap(string name) => 1UL << CapabilityTable.Parse(name);

    [Fact]
    public void The_Protect_directives_take_their_capabilities_out_of_the_bounding_set()
    {
        var plan = Plan("ProtectKernelModules = true\nProtectKernelLogs = true\nProtectClock = true");
        ulong gone = Cap("CAP_SYS_MODULE") | Cap("CAP_SYSLOG") | Cap("CAP_SYS_TIME") | Cap("CAP_WAKE_ALARM");
        Assert.Equal(0UL, plan.Capabilities!.Bounding & gone);
        Assert.Equal(0UL, plan.Capabilities.Permitted & gone);
        Assert.NotEqual(0UL, plan.Capabilities.Bounding & Cap("CAP_CHOWN"));
        Assert.Equal(Cap("CAP_SYS_MODULE"), plan.KernelProtections.Single(p => p.Directive == "ProtectKernelModules").DroppedCapabilities);
    }

    [Fact]
    public void Hidden_paths_come_after_the_API_filesystems_in_a_mount_namespace()
    {
        var plan = Plan("ProtectKernelModules = true\nProtectKernelLogs = true\nNamespaces = [\"pid\"]");
        Assert.NotEqual(NamespaceFlags.None, plan.Namespaces & NamespaceFlags.Mount);
        var ops = plan.Mounts.ToList();
        int proc = ops.FindIndex(o => o is ProcMount);
        foreach (var path in new[] { "/usr/lib/modules", "/lib/modules", "/proc/kmsg", "/dev/kmsg" })
            Assert.True(ops.FindIndex(o => o is InaccessibleMount { Optional: true } m && m.Path == path) > proc, path);
        // A private /dev has no kmsg to hide; nothing is listed for it.
        Assert.DoesNotContain(Plan("ProtectKernelLogs = true\nPrivateDevices = true").Mounts, o => o is InaccessibleMount { Path: "/dev/kmsg" });
    }

    [Fact]
    public void ProtectHostname_gives_an_own_uts_namespace()
    {
        Assert.NotEqual(NamespaceFlags.None, Plan("ProtectHostname = true").Namespaces & NamespaceFlags.Uts);
        Assert.True(Plan("ProtectHostname = true").KernelProtections.Single().OwnUts);
    }

    [Fact]
    public void ProcSubset_pid_mounts_a_proc_with_subset_pid_and_drops_steps_on_files_it_does_not_have()
    {
        var plan = Plan("ProcSubset = \"pid\"\nProtectProc = \"invisible\"\nProtectKernelTunables = true");
        Assert.Contains(new ProcMount("/proc", "hidepid=invisible,subset=pid"), plan.Mounts);
        Assert.DoesNotContain(plan.Mounts, o => o is RemountMount r && r.Path.StartsWith("/proc/", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Mounts, o => o is InaccessibleMount m && m.Path.StartsWith("/proc/", StringComparison.Ordinal));
        Assert.Contains(plan.Mounts, o => o is RemountMount { Path: "/sys", ReadOnly: true });
        Assert.Contains(new ProcMount("/proc", "subset=pid"), Plan("ProcSubset = \"pid\"").Mounts);
        Assert.Empty(Plan("ProcSubset = \"all\"").Mounts);
    }

    [Fact]
    public void An_ambient_capability_a_directive_drops_cannot_be_compiled()
    {
        var e = Assert.Throws<PlanCompileException>(() => Compiler.ExecPlanCompiler.Compile(
            Unit("ProtectClock = true") with { Sandbox = Unit("ProtectClock = true").Sandbox with { AmbientCapabilities = [CapabilityTable.Parse("CAP_SYS_TIME")] } }, Ctx()));
        Assert.Equal("AmbientCapabilities", e.Key);
    }
}
