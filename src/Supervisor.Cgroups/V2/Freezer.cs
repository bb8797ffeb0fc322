namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 freezer: the core file cgroup.freeze (no controller to enable, since 5.2). Completion shows as
/// "frozen 1" in cgroup.events.
/// </summary>
internal sealed class Freezer(DriverContext ctx)
{
    public static bool Supported(string dir) => File.Exists(Path.Combine(dir, "cgroup.freeze"));

    /// <summary>Freezes and waits (bounded) for "frozen 1"; returns whether it got there.</summary>
    public bool Freeze(string dir)
    {
        ctx.Fs.Write(Path.Combine(dir, "cgroup.freeze"), "1");
        var events = Path.Combine(dir, "cgroup.events");
        var deadline = DateTime.UtcNow + CgroupConstants.FreezeSettleTimeout;
        while (true)
        {
            var text = CgroupFs.TryReadText(events, out _);
            if (text is null)
            {
                return false;
            }
            if (text.Contains("frozen 1", StringComparison.Ordinal))
            {
                return true;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            Thread.Sleep(1);
        }
    }

    public void Thaw(string dir) => ctx.Fs.Write(Path.Combine(dir, "cgroup.freeze"), "0");
}
