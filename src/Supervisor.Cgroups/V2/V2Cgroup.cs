using Supervisor.Cgroups.Events;

namespace Supervisor.Cgroups.V2;

/// <summary>A cgroup in the unified hierarchy.</summary>
internal sealed class V2Cgroup : CgroupBase
{
    private readonly V2Driver _driver;
    private readonly string _dir;

    public V2Cgroup(V2Driver driver, CgroupPath path) : base(driver, path)
    {
        _driver = driver;
        _dir = path.Relative.Length == 0 ? driver.RootDir : System.IO.Path.Combine(driver.RootDir, path.Relative);
        Directories = [_dir];
    }

    public override IReadOnlyList<string> Directories { get; }

    protected override string DirFor(IController controller) => _dir;

    protected override void EnsureDirectories()
    {
        var current = _driver.RootDir;
        Ctx.Fs.Mkdir(current);
        foreach (var part in Path.Segments)
        {
            // Every level above the leaf passes our controllers down. Slices never hold processes
            // themselves, so the no-internal-processes rule is kept.
            _driver.EnableControllers(current);
            current = System.IO.Path.Combine(current, part);
            Ctx.Fs.Mkdir(current);
        }
    }

    public override void Freeze()
    {
        if (!Freezer.Supported(_dir))
        {
            throw new CgroupException($"freeze cgroup '{Path}' failed: '{_dir}/cgroup.freeze' is absent (kernel before 5.2)");
        }
        if (!_driver.FreezerControl.Freeze(_dir))
        {
            throw new CgroupException($"freeze cgroup '{Path}' failed: '{_dir}/cgroup.events' did not report frozen within {CgroupConstants.FreezeSettleTimeout.TotalSeconds}s");
        }
    }

    public override void Thaw() => _driver.FreezerControl.Thaw(_dir);

    public override async Task KillAllAsync(CancellationToken cancellationToken = default)
    {
        var kill = System.IO.Path.Combine(_dir, "cgroup.kill");
        if (File.Exists(kill))
        {
            // cgroup.kill (5.14+) SIGKILLs the whole subtree atomically, forks in flight included.
            try
            {
                Ctx.Fs.Write(kill, "1");
            }
            catch (CgroupIoException e) when (e.Vanished)
            {
                return; // the cgroup is already gone
            }
            await WaitForEmptyAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        var freeze = Freezer.Supported(_dir);
        await FreezeKillThawAsync(
            freeze ? () => _driver.FreezerControl.Freeze(_dir) : null,
            freeze ? () => ThawIfPresent() : null,
            cancellationToken).ConfigureAwait(false);
    }

    private void ThawIfPresent()
    {
        try
        {
            _driver.FreezerControl.Thaw(_dir);
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
            throw new CgroupException($"watch OOM kills of cgroup '{Path}' failed: the memory controller is not enabled");
        }
        var events = System.IO.Path.Combine(_dir, "memory.events");
        var watcher = new OomKillWatcher(() => ReadKeyed(events, "oom_kill"u8), settle: false);
        // memory.events raises IN_MODIFY on every change of its counters (cgroup_file_notify).
        watcher.Start(onNotified => new FdWatch(FdWatch.InotifyModify(events), onNotified, "cgroup-oom-v2"));
        return watcher;
    }

    private static ulong? ReadKeyed(string file, ReadOnlySpan<byte> key)
    {
        var text = CgroupFs.TryReadText(file, out _);
        return text is null ? null : StatReader.Keyed(System.Text.Encoding.ASCII.GetBytes(text), key);
    }

    public override bool IsPopulated() => ReadKeyed(System.IO.Path.Combine(_dir, "cgroup.events"), "populated"u8) is > 0;

    public override async Task WaitForEmptyAsync(CancellationToken cancellationToken = default)
    {
        var events = System.IO.Path.Combine(_dir, "cgroup.events");
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            // "populated 0": no process in this cgroup or below. A vanished file means the same.
            if (ReadKeyed(events, "populated"u8) is null or 0)
            {
                tcs.TrySetResult();
            }
        }
        FdWatch watch;
        try
        {
            watch = new FdWatch(FdWatch.InotifyModify(events), Check, "cgroup-empty-v2");
        }
        catch (CgroupIoException e) when (e.Vanished)
        {
            return;
        }
        using (watch)
        using (cancellationToken.Register(() => tcs.TrySetCanceled(cancellationToken)))
        {
            Check(); // after arming the watch, so a change in between is not missed
            await tcs.Task.ConfigureAwait(false);
        }
    }
}
