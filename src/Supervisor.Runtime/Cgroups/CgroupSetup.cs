using System.Globalization;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;

namespace Supervisor.Runtime.Cgroups;

/// <summary>The cgroup layout detected at start, and the subtree this instance owns prepared in it.</summary>
public static class CgroupSetup
{
    /// <returns>The driver, and the layout in one line for the log and `supervisor status`.</returns>
    public static (ICgroupDriver Driver, string Description) Prepare(string cgroupRoot, ILogger logger)
    {
        var layout = CgroupLayout.Detect();
        // Under systemd with Delegate=yes the service's own cgroup is handed to us: our units live
        // below it and nothing above it is ever written (contrib/systemd/supervisor.service).
        var delegated = layout.DelegatedSubtree();
        var root = delegated is null ? cgroupRoot : $"{delegated}/{cgroupRoot}";
        var driver = CgroupDriver.Create(layout, root);
        if (delegated is null || !layout.IsV2) driver.PrepareRoot();
        else PrepareDelegatedV2(layout, driver, delegated, cgroupRoot, logger);
        return (driver, driver.Describe() + (delegated is null ? "" : $"; delegated by systemd: {delegated}"));
    }

    /// <summary>
    /// cgroup v2 forbids processes in a cgroup whose children have controllers enabled ("no
    /// internal processes"), so under delegation the daemon first moves itself into a leaf of its
    /// own (supervisor.scope) beside the units' subtree, then enables the controllers for it.
    /// </summary>
    private static void PrepareDelegatedV2(CgroupLayout layout, ICgroupDriver driver, string delegated, string cgroupRoot, ILogger logger)
    {
        var top = Path.Combine(layout.FsRoot, delegated);
        var self = Path.Combine(top, "supervisor.scope");
        Directory.CreateDirectory(self);
        File.WriteAllText(Path.Combine(self, "cgroup.procs"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var available = File.ReadAllText(Path.Combine(top, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        File.WriteAllText(Path.Combine(top, "cgroup.subtree_control"), string.Join(' ', available.Select(c => "+" + c)));
        driver.PrepareRoot();
        logger.LogInformation("running under systemd: moved into {Self}; units below {Top}/{Root}", self, top, cgroupRoot);
    }
}
