using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Cgroups.Events;

namespace Supervisor.Cgroups.V1;

/// <summary>A cgroup in every v1 hierarchy the driver uses, at the same relative path.</summary>
internal sealed class V1Cgroup : CgroupBase
{
    private readonly V1Driver _driver;

    public V1Cgroup(V1Driver driver, CgroupPath path) : base(driver, path)
    {
        _driver = driver;
        Directories = driver.Hierarchies.Select(DirIn).ToArray();
    }

    public override IReadOnlyList<string> Directories { get; }

    private string Relative => Path.Relative.Length == 0 ? _driver.Root : _driver.Root + "/" + Path.Relative;

    private string DirIn(string hierarchy) => System.IO.Path.Combine(hierarchy, Relative);

    protected override string DirFor(IController controller)
        => Ctx.Layout.V1Mounts.TryGetValue(controller.Name, out var h) ? DirIn(h) : "";

    protected override void EnsureDirectories()
    {
        foreach (var h in _driver.Hierarchies)
        {
            var rootDir = System.IO.Path.Combine(h, _driver.Root);
            foreach (var level in V1Driver.Levels(h, Relative))
            {
                if (level.Length < rootDir.Length)
                {
                    continue; // above our subtree: exists, not ours
                }
                Ctx.Fs.Mkdir(level);
                if (h == _driver.CpusetHierarchy)
                {
                    // A new v1 cpuset has empty cpus/mems and refuses tasks (ENOSPC) until both are
                    // set. Done for existing levels too (only where still empty): a level created by
                    // an interrupted earlier run may never have got its values.
                    _driver.CpusetController.Inherit(level, Ctx.Fs);
                }
            }
        }
    }

    public override bool IsPopulated()
    {
        // pids.current counts every task of the cgroup and its descendants until it is reaped:
        // one read instead of walking cgroup.procs in every hierarchy.
        if (!Ctx.Layout.V1Mounts.TryGetValue("pids", out var hierarchy))
        {
            return base.IsPopulated();
        }
        var file = System.IO.Path.Combine(DirIn(hierarchy), "pids.current");
        var text = CgroupFs.TryReadText(file, out var errno);
        if (text is null)
        {
            return Errno.IsVanished(errno) ? false : throw new CgroupIoException("read", file, errno);
        }
        return !ulong.TryParse(text.AsSpan().Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var tasks)
            ? throw new CgroupException($"unexpected content in {file}: '{text.Trim()}'")
            : tasks > 0;
    }

    private string? FreezerDir => _driver.FreezerController.Available ? DirFor(_driver.FreezerController) : null;

    public override void Freeze()
    {
        var dir = FreezerDir ?? throw new CgroupException($"freeze cgroup '{Path}' failed: the freezer controller is not mounted");
        if (!_driver.FreezerController.Freeze(dir))
        {
            throw new CgroupException($"freeze cgroup '{Path}' failed: '{dir}/freezer.state' did not reach FROZEN within {CgroupConstants.FreezeSettleTimeout.TotalSeconds}s");
        }
    }

    public override void Thaw()
    {
        var dir = FreezerDir ?? throw new CgroupException($"thaw cgroup '{Path}' failed: the freezer controller is not mounted");
        _driver.FreezerController.Thaw(dir);
    }

    public override async Task KillAllAsync(CancellationToken cancellationToken = default)
    {
        var freezer = FreezerDir is { } dir && Directory.Exists(dir) ? dir : null;
        // A FREEZING state that does not settle (a task in uninterruptible sleep) is not fatal:
        // we kill what is there and go round again.
        await FreezeKillThawAsync(
            freezer is null ? null : () => _driver.FreezerController.Freeze(freezer),
            freezer is null ? null : () => ThawIfPresent(freezer),
            cancellationToken).ConfigureAwait(false);
    }

    private void ThawIfPresent(string dir)
    {
        try
        {
            _driver.FreezerController.Thaw(dir);
        }
        catch (CgroupIoException e) when (e.Vanished)
        {
            // Removed concurrently: nothing left to thaw.
        }
    }

    public override OomKillWatcher WatchOomKills()
    {
        if (!_driver.MemoryController.Available)
        {
            throw new CgroupException($"watch OOM kills of cgroup '{Path}' failed: the memory controller is not mounted");
        }
        var dir = DirFor(_driver.MemoryController);
        var control = System.IO.Path.Combine(dir, "memory.oom_control");
        var watcher = new OomKillWatcher(() => ReadOomKill(control), settle: true);
        watcher.Start(onNotified => new FdWatch(FdWatch.V1OomEventFd(Ctx.Fs, dir), onNotified, "cgroup-oom-v1"));
        return watcher;
    }

    private static ulong? ReadOomKill(string file)
    {
        var text = CgroupFs.TryReadText(file, out _);
        return text is null ? null : StatReader.Keyed(System.Text.Encoding.ASCII.GetBytes(text), "oom_kill"u8);
    }

    public override async Task WaitForEmptyAsync(CancellationToken cancellationToken = default)
    {
        // v1 only notifies emptiness through release_agent, which is host-global and not ours to
        // take. So poll cgroup.procs, and only for as long as someone is waiting.
        using var timer = new PeriodicTimer(CgroupConstants.V1EmptyPollInterval);
        while (!IsEmpty())
        {
            await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
