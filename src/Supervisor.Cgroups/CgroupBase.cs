using System.Globalization;
using Supervisor.Cgroups.Bpf;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>What the v1 and v2 cgroup handles share: the apply/drift engine, stats, join, procs, destroy.</summary>
internal abstract class CgroupBase : ICgroup
{
    protected CgroupBase(DriverBase driver, CgroupPath path)
    {
        Driver = driver;
        Path = path;
    }

    protected DriverBase Driver { get; }

    protected DriverContext Ctx => Driver.Context;

    public CgroupPath Path { get; }

    public abstract IReadOnlyList<string> Directories { get; }

    public IReadOnlyList<string> ProcsFiles => Directories.Select(d => System.IO.Path.Combine(d, "cgroup.procs")).ToArray();

    /// <summary>The directory of this cgroup in a controller's hierarchy (v2: the one directory).</summary>
    protected abstract string DirFor(IController controller);

    public bool Exists() => Directories.Any(Directory.Exists);

    /// <summary>mkdir -p from the subtree root down, with per-version set-up of each new level.</summary>
    protected abstract void EnsureDirectories();

    public IReadOnlyList<LimitChange> Create(ResourceLimits limits)
    {
        // Validation resolves devices and checks every value before the first mkdir, so a bad value
        // never leaves a half-limited cgroup behind.
        Driver.Validate(limits);
        var existed = Exists();
        EnsureDirectories();
        try
        {
            return [.. LimitEngine.Apply(Ctx.Fs, Settings(limits)), .. ApplyPrograms(limits)];
        }
        catch (CgroupException) when (!existed)
        {
            // The kernel refused a value: do not leave a half-limited cgroup behind for someone
            // to start a process in. (Slices above it may be shared and stay.)
            TryDestroy();
            throw;
        }
    }

    public IReadOnlyList<LimitChange> Apply(ResourceLimits limits, ResourceLimits? previous = null)
    {
        var effective = previous is null ? limits : Defaults.ResetRemoved(limits, previous, Driver.Version);
        Driver.Validate(effective);
        return [.. LimitEngine.Apply(Ctx.Fs, Settings(effective)), .. ApplyPrograms(effective)];
    }

    public IReadOnlyList<LimitDrift> CheckDrift(ResourceLimits limits) =>
        [.. LimitEngine.Check(Settings(limits)), .. Programs(limits) is { Count: > 0 } p ? CgroupPrograms.Check(Directories[0], p) : []];

    public IReadOnlyList<LimitChange> Repair(ResourceLimits limits) =>
        [.. LimitEngine.Apply(Ctx.Fs, Settings(limits)), .. ApplyPrograms(limits)];

    public IReadOnlyList<AccessState> CheckAccess(ResourceLimits limits)
    {
        var access = ResourceLimits.None with
        {
            DevicePolicy = limits.DevicePolicy,
            DeviceAllow = limits.DeviceAllow,
            IPAddressAllow = limits.IPAddressAllow,
            IPAddressDeny = limits.IPAddressDeny,
            SocketBindAllow = limits.SocketBindAllow,
            SocketBindDeny = limits.SocketBindDeny,
        };
        var states = new List<AccessState>();
        foreach (var s in Settings(access))
        {
            var text = CgroupFs.TryReadText(s.File, out var errno) ?? throw new CgroupIoException("read", s.File, errno);
            var found = s.Current(text);
            states.Add(new AccessState(s.Key, s.File, s.Declared, found, found == s.Declared));
        }
        if (Programs(access) is { Count: > 0 } programs)
        {
            foreach (var p in CgroupPrograms.Describe(Directories[0], programs))
            {
                states.Add(new AccessState(p.Setting.Key, p.File, p.Setting.Declared, p.Found, p.Matches));
            }
        }
        return states;
    }

    /// <summary>The programs the cgroup should carry for <paramref name="limits"/> (v2; none on v1).</summary>
    internal List<ProgramSetting> Programs(ResourceLimits limits)
    {
        var list = new List<ProgramSetting>();
        foreach (var p in Driver.ProgramControllers)
        {
            p.AddPrograms(limits, Path, list);
        }
        return list;
    }

    private List<LimitChange> ApplyPrograms(ResourceLimits limits) =>
        Programs(limits) is { Count: > 0 } p ? CgroupPrograms.Apply(Directories[0], p) : [];

    public IDisposable WatchLimitWrites(ResourceLimits limits, Action onWritten)
    {
        var files = Settings(limits).SelectMany(s => s.WatchFiles).Distinct(StringComparer.Ordinal).ToList();
        return files.Count == 0 ? NoWatch.Instance : Events.LimitWriteWatcher.Shared.Value.Watch(files, onWritten);
    }

    private sealed class NoWatch : IDisposable
    {
        public static readonly NoWatch Instance = new();
        public void Dispose() { }
    }

    internal List<LimitSetting> Settings(ResourceLimits limits)
    {
        var list = new List<LimitSetting>();
        foreach (var c in Driver.Controllers)
        {
            c.AddSettings(limits, DirFor(c), list);
        }
        return list;
    }

    public void Join(int pid)
    {
        var text = pid.ToString(CultureInfo.InvariantCulture);
        foreach (var file in ProcsFiles)
        {
            Ctx.Fs.Write(file, text);
        }
    }

    public IReadOnlyList<int> GetProcs()
    {
        var pids = new SortedSet<int>();
        foreach (var dir in Directories)
        {
            foreach (var d in SubtreeBottomUp(dir))
            {
                var text = CgroupFs.TryReadText(System.IO.Path.Combine(d, "cgroup.procs"), out var errno);
                if (text is null)
                {
                    // The directory vanished between listing and reading: it has no processes.
                    if (Errno.IsVanished(errno))
                    {
                        continue;
                    }
                    throw new CgroupIoException("read", System.IO.Path.Combine(d, "cgroup.procs"), errno);
                }
                foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
        }
        return pids.ToArray();
    }

    public CgroupStats GetStats() => GetStats(usageOnly: false);

    public CgroupStats GetStats(bool usageOnly)
    {
        var stats = new CgroupStats();
        using var reader = new StatReader { UsageOnly = usageOnly, Parents = Ctx.Parents };
        foreach (var c in Driver.Controllers)
        {
            c.ReadStats(DirFor(c), reader, stats);
        }
        stats.ReadErrors = reader.Errors;
        return stats;
    }

    /// <summary>
    /// Freeze, SIGKILL everything listed, thaw, until empty. Freezing first stops a fork loop from
    /// outrunning the kill; without a freezer the loop still converges because every round kills
    /// whatever exists and new children need a live parent.
    /// </summary>
    protected async Task FreezeKillThawAsync(Func<bool>? freeze, Action? thaw, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + CgroupConstants.KillAllTimeout;
        for (int round = 1; ; round++)
        {
            var pids = GetProcs();
            if (pids.Count == 0)
            {
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new CgroupException($"kill-all of cgroup '{Path}' failed: {pids.Count} processes remain after {round - 1} rounds in {CgroupConstants.KillAllTimeout.TotalSeconds}s (first: {string.Join(' ', pids.Take(10))}); a process in uninterruptible sleep cannot die until its IO completes");
            }
            freeze?.Invoke();
            try
            {
                KillPids(GetProcs());
            }
            finally
            {
                // Killed tasks only die once thawed: SIGKILL stays pending while frozen.
                thaw?.Invoke();
            }
            if (GetProcs().Count > 0)
            {
                await Task.Delay(CgroupConstants.KillAllRoundDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public abstract void Freeze();

    public abstract void Thaw();

    public abstract Task KillAllAsync(CancellationToken cancellationToken = default);

    public abstract OomKillWatcher WatchOomKills();

    public abstract Task WaitForEmptyAsync(CancellationToken cancellationToken = default);

    public void Destroy()
    {
        foreach (var dir in Directories)
        {
            foreach (var d in SubtreeBottomUp(dir))
            {
                RemoveDirectory(d);
            }
        }
    }

    private void TryDestroy()
    {
        try
        {
            Destroy();
        }
        catch (CgroupException)
        {
            // Best effort: the original failure is the one worth reporting.
        }
    }

    private void RemoveDirectory(string dir)
    {
        for (int attempt = 0; ; attempt++)
        {
            int errno = Ctx.Fs.TryRmdir(dir);
            if (errno is 0 or Errno.ENOENT)
            {
                return;
            }
            // EBUSY right after a kill: the last tasks are still in do_exit and charged to the group.
            if (errno == Errno.EBUSY && attempt < CgroupConstants.RmdirBusyRetries)
            {
                Thread.Sleep(CgroupConstants.RmdirBusyDelay);
                continue;
            }
            throw new CgroupIoException("rmdir", dir, errno, errno == Errno.EBUSY ? "processes are still in it" : null);
        }
    }

    /// <summary>The directory and every child cgroup below it, deepest first.</summary>
    protected static IEnumerable<string> SubtreeBottomUp(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return [];
        }
        var result = new List<string>();
        try
        {
            foreach (var child in Directory.EnumerateDirectories(dir))
            {
                result.AddRange(SubtreeBottomUp(child));
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Removed while we listed it (a unit stopping concurrently).
        }
        result.Add(dir);
        return result;
    }

    /// <summary>Is there any process left in the subtree?</summary>
    protected bool IsEmpty() => !IsPopulated();

    public virtual bool IsPopulated() => GetProcs().Count > 0;

    /// <summary>SIGKILL every pid; a pid that exited meanwhile (ESRCH) is what we wanted anyway.</summary>
    protected static void KillPids(IEnumerable<int> pids)
    {
        foreach (var pid in pids)
        {
            if (Libc.Kill(pid, Libc.SIGKILL) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno != Errno.ESRCH)
                {
                    throw new CgroupException($"kill({pid}, SIGKILL) failed: {Errno.Name(errno)}");
                }
            }
        }
    }
}

/// <summary>Kernel defaults that a key falls back to when a live change removes it from the unit.</summary>
internal static class Defaults
{
    public static ResourceLimits ResetRemoved(ResourceLimits now, ResourceLimits previous, int version) => now with
    {
        MemoryMax = now.MemoryMax ?? (previous.MemoryMax is null ? null : Limit.Infinity),
        MemoryHigh = now.MemoryHigh ?? (previous.MemoryHigh is null ? null : Limit.Infinity),
        // v1's soft limit defaults to unlimited, v2's memory.low to 0.
        MemoryLow = now.MemoryLow ?? (previous.MemoryLow is null ? null : version == 1 ? Limit.Infinity : Limit.Of(0)),
        MemoryMin = now.MemoryMin ?? (previous.MemoryMin is null ? null : Limit.Of(0)),
        MemorySwapMax = now.MemorySwapMax ?? (previous.MemorySwapMax is null ? null : Limit.Infinity),
        CPUQuotaPercent = now.CPUQuotaPercent ?? (previous.CPUQuotaPercent is null ? null : double.PositiveInfinity),
        CPUWeight = now.CPUWeight ?? (previous.CPUWeight is null ? null : CgroupConstants.CpuWeightDefault),
        AllowedCPUs = now.AllowedCPUs ?? (previous.AllowedCPUs is null ? null : CpuSet.Empty),
        AllowedMemoryNodes = now.AllowedMemoryNodes ?? (previous.AllowedMemoryNodes is null ? null : CpuSet.Empty),
        TasksMax = now.TasksMax ?? (previous.TasksMax is null ? null : Limit.Infinity),
        IOWeight = now.IOWeight ?? (previous.IOWeight is null ? null : CgroupConstants.IoWeightDefault),
        IOReadBandwidthMax = now.IOReadBandwidthMax ?? (previous.IOReadBandwidthMax is null ? null : new Dictionary<string, ulong>()),
        IOWriteBandwidthMax = now.IOWriteBandwidthMax ?? (previous.IOWriteBandwidthMax is null ? null : new Dictionary<string, ulong>()),
        IOReadIOPSMax = now.IOReadIOPSMax ?? (previous.IOReadIOPSMax is null ? null : new Dictionary<string, ulong>()),
        IOWriteIOPSMax = now.IOWriteIOPSMax ?? (previous.IOWriteIOPSMax is null ? null : new Dictionary<string, ulong>()),
        // Device rules dropped: back to "auto" without a list, everything allowed (v1 "a" into
        // devices.allow, v2 the program detached). Address and bind lists dropped: no program.
        DevicePolicy = now.HasDevices ? now.DevicePolicy : previous.HasDevices ? DevicePolicy.Auto : null,
        DeviceAllow = now.HasDevices ? now.DeviceAllow : null,
        IPAddressAllow = now.HasFirewall ? now.IPAddressAllow : previous.HasFirewall ? [] : null,
        IPAddressDeny = now.HasFirewall ? now.IPAddressDeny : previous.HasFirewall ? [] : null,
        SocketBindAllow = now.HasSocketBind ? now.SocketBindAllow : previous.HasSocketBind ? [] : null,
        SocketBindDeny = now.HasSocketBind ? now.SocketBindDeny : previous.HasSocketBind ? [] : null,
    };
}
