namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 freezer controller: freezer.state FROZEN/THAWED. Freezing is asynchronous: the file reads
/// FREEZING until every task has stopped.
/// </summary>
internal sealed class Freezer(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("freezer");

    public string Name => "freezer";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
    }

    /// <summary>Freezes and waits (bounded) until the state reads FROZEN; returns whether it did.</summary>
    public bool Freeze(string dir)
    {
        var state = Path.Combine(dir, "freezer.state");
        ctx.Fs.Write(state, "FROZEN");
        var deadline = DateTime.UtcNow + CgroupConstants.FreezeSettleTimeout;
        while (true)
        {
            var now = CgroupFs.TryReadText(state, out _)?.Trim();
            if (now is null or "FROZEN")
            {
                return now is not null;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            // FREEZING: a task is in an uninterruptible sleep or exiting; writing FROZEN again
            // retries the tasks that have not stopped yet.
            Thread.Sleep(1);
            ctx.Fs.Write(state, "FROZEN");
        }
    }

    public void Thaw(string dir) => ctx.Fs.Write(Path.Combine(dir, "freezer.state"), "THAWED");
}
