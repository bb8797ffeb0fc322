namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 memory controller. MemoryMax → memory.limit_in_bytes; MemoryLow → memory.soft_limit_in_bytes
/// (a reclaim priority under global pressure: the nearest v1 has to a protection, reported as
/// approximated); MemorySwapMax → memory.memsw.limit_in_bytes = MemoryMax + MemorySwapMax (v1 caps
/// memory and swap together). MemoryHigh and MemoryMin have no v1 file and are reported.
/// </summary>
internal sealed class Memory(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("memory");

    public string Name => "memory";

    public bool Available => _hierarchy is not null;

    /// <summary>memory.memsw.* exist only with swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1).</summary>
    private bool SwapAccounting => _swapAccounting.Value;

    private readonly Lazy<bool> _swapAccounting = new(() =>
        ctx.Layout.V1Mounts.TryGetValue("memory", out var h) && File.Exists(Path.Combine(h, "memory.memsw.limit_in_bytes")));

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted",
                (ResourceKeys.MemoryMax, l.MemoryMax is not null), (ResourceKeys.MemoryHigh, l.MemoryHigh is not null),
                (ResourceKeys.MemoryLow, l.MemoryLow is not null), (ResourceKeys.MemoryMin, l.MemoryMin is not null),
                (ResourceKeys.MemorySwapMax, l.MemorySwapMax is not null));
            return;
        }
        if (l.MemoryHigh is not null)
        {
            into.Add(new Unhonoured(ResourceKeys.MemoryHigh, "not available on cgroup v1 (no memory.high); not applied", UnhonouredKind.NotOnThisVersion));
        }
        if (l.MemoryMin is not null)
        {
            into.Add(new Unhonoured(ResourceKeys.MemoryMin, "not available on cgroup v1 (no memory.min); not applied", UnhonouredKind.NotOnThisVersion));
        }
        if (l.MemoryLow is not null)
        {
            into.Add(new Unhonoured(ResourceKeys.MemoryLow, "approximated on cgroup v1 by memory.soft_limit_in_bytes, a reclaim priority under global memory pressure rather than a protection", UnhonouredKind.Approximated));
        }
        if (l.MemorySwapMax is { } swap)
        {
            if (!SwapAccounting)
            {
                into.Add(new Unhonoured(ResourceKeys.MemorySwapMax, "memory.memsw.limit_in_bytes is absent: swap accounting is off (boot with swapaccount=1); not applied", UnhonouredKind.FileMissing));
            }
            else if (!swap.IsInfinity && l.MemoryMax is not { IsInfinity: false })
            {
                into.Add(new Unhonoured(ResourceKeys.MemorySwapMax, "cgroup v1 limits memory+swap together (memory.memsw.limit_in_bytes = MemoryMax + MemorySwapMax), which needs a finite MemoryMax; not applied", UnhonouredKind.NotOnThisVersion));
            }
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        if (l.MemoryMax is { } max)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.MemoryMax, Path.Combine(dir, "memory.limit_in_bytes"), Values.MemoryV1(max), Values.NormaliseMemory));
        }
        if (l.MemoryLow is { } low)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.MemoryLow, Path.Combine(dir, "memory.soft_limit_in_bytes"), Values.MemoryV1(low), Values.NormaliseMemory));
        }
        if (l.MemorySwapMax is { } swap && SwapAccounting)
        {
            string? memsw = swap.IsInfinity || l.MemoryMax is { IsInfinity: true } ? "-1"
                : l.MemoryMax is { } m ? Values.U(m.Value + swap.Value)
                : null;
            if (memsw is not null)
            {
                // Written after memory.limit_in_bytes; when raising both the kernel refuses the first
                // write (limit must stay ≤ memsw) and the engine retries it after this one.
                into.Add(LimitSetting.Simple(ResourceKeys.MemorySwapMax, Path.Combine(dir, "memory.memsw.limit_in_bytes"), memsw, Values.NormaliseMemory));
            }
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        if (r.Read(dir, "memory.usage_in_bytes"))
        {
            s.MemoryCurrentBytes = r.Single(out _);
        }
        if (r.Read(dir, "memory.max_usage_in_bytes"))
        {
            s.MemoryPeakBytes = r.Single(out _);
        }
        if (r.Read(dir, "memory.stat"))
        {
            // Hierarchical (total_*) keys: the unit's cgroup may have children of its own.
            var inactiveFile = r.Keyed("total_inactive_file"u8);
            s.SwapCurrentBytes = r.Keyed("total_swap"u8);
            if (s.MemoryCurrentBytes is { } usage && inactiveFile is { } inactive)
            {
                s.MemoryWorkingSetBytes = usage > inactive ? usage - inactive : 0;
            }
        }
        if (r.Read(dir, "memory.oom_control"))
        {
            // The oom_kill line exists since 4.13.
            s.OomKills = r.Keyed("oom_kill"u8);
        }
        if (!r.UsageOnly && r.Read(dir, "memory.limit_in_bytes"))
        {
            s.MemoryMaxBytes = r.LimitValue();
        }
    }
}
