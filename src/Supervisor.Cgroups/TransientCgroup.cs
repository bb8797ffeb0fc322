namespace Supervisor.Cgroups;

/// <summary>
/// A cgroup that lives as long as one command (`supervisor exec`): created with the unit's limits,
/// and on disposal every process left in it is killed and the directory removed.
/// </summary>
public sealed class TransientCgroup : IAsyncDisposable
{
    private TransientCgroup(ICgroup cgroup) => Cgroup = cgroup;

    public ICgroup Cgroup { get; }

    /// <summary>Creates `&lt;name&gt;.scope` below the root (any slice limits are the caller's to create first).</summary>
    public static TransientCgroup Create(ICgroupDriver driver, string name, ResourceLimits limits, string? slice = null)
    {
        var cg = driver.Open(CgroupPath.ForUnit(name.EndsWith(".scope", StringComparison.Ordinal) ? name : name + ".scope", slice));
        cg.Create(limits);
        return new TransientCgroup(cg);
    }

    public async ValueTask DisposeAsync()
    {
        await Cgroup.KillAllAsync().ConfigureAwait(false);
        Cgroup.Destroy();
    }
}
