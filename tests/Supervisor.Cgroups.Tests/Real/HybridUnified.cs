using Supervisor.Cgroups;

namespace Supervisor.Cgroups.Tests.Real;

/// <summary>The cgroup2 mount a hybrid host keeps beside its v1 controllers, as a layout of its own for the v2 driver.</summary>
internal static class HybridUnified
{
    public static CgroupLayout? Layout(out string? skip)
    {
        var host = CgroupLayout.Detect();
        if (host.Mode != CgroupMode.Hybrid || host.UnifiedMount is null)
        {
            skip = "host is not hybrid (no separate cgroup2 mount next to v1)";
            return null;
        }
        skip = null;
        return CgroupLayout.Detect(host.UnifiedMount);
    }
}
