namespace Supervisor.Cgroups.V2;

/// <summary>
/// Which v2 controllers our subtree can use: those listed in the subtree root's cgroup.controllers
/// (what its parent enabled), or, before the root exists, those the hierarchy offers at the top.
/// </summary>
internal sealed class V2Controllers(DriverContext ctx)
{
    private string SubtreeRoot => Path.Combine(ctx.Layout.UnifiedMount!, ctx.Root);

    private IReadOnlySet<string>? _enabled;

    // Cached: every snapshot asks each controller whether it is available, and re-reading
    // cgroup.controllers for that would double the files a snapshot reads. Refreshed whenever we
    // change subtree_control ourselves.
    private IReadOnlySet<string> Enabled => _enabled ??= ReadEnabled();

    private IReadOnlySet<string> ReadEnabled()
    {
        var own = Path.Combine(SubtreeRoot, "cgroup.controllers");
        return File.Exists(own) ? CgroupLayout.ReadControllerList(own) : ctx.Layout.AvailableControllers;
    }

    public void Refresh() => _enabled = null;

    public bool Has(string controller) => Enabled.Contains(controller);

    public string Why(string controller) => ctx.Layout.AvailableControllers.Contains(controller)
        ? $"is not enabled for '{SubtreeRoot}' (not in its parent's cgroup.subtree_control)"
        : "is not available on this host (not in cgroup.controllers)";

    /// <summary>
    /// Whether an optional interface file exists. Checked in the subtree root, where the controller is
    /// enabled; before the root exists, assumed present (the write reports it otherwise).
    /// </summary>
    public bool FileInRoot(string file)
        => !Directory.Exists(SubtreeRoot) || File.Exists(Path.Combine(SubtreeRoot, file));
}
