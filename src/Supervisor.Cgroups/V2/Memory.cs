namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 memory controller: MemoryMax/High/Low/Min/SwapMax → memory.max/.high/.low/.min/.swap.max
/// ("max" for infinity). Accounting from memory.current, .peak, .stat, .swap.current, .events and
/// memory.pressure.
/// </summary>
internal sealed class Memory(V2Controllers enabled) : IController
{
    public string Name => "memory";

    public bool Available => enabled.Has(Name);

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, enabled.Why(Name),
                (ResourceKeys.MemoryMax, l.MemoryMax is not null), (ResourceKeys.MemoryHigh, l.MemoryHigh is not null),
                (ResourceKeys.MemoryLow, l.MemoryLow is not null), (ResourceKeys.MemoryMin, l.MemoryMin is not null),
                (ResourceKeys.MemorySwapMax, l.MemorySwapMax is not null));
            return;
        }
        if (l.MemorySwapMax is not null && !enabled.FileInRoot("memory.swap.max"))
        {
            into.Add(new Unhonoured(ResourceKeys.MemorySwapMax, "memory.swap.max is absent: swap accounting is off (CONFIG_MEMCG_SWAP or swapaccount=0); not applied", UnhonouredKind.FileMissing));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        Add(ResourceKeys.MemoryMin, "memory.min", l.MemoryMin);
        Add(ResourceKeys.MemoryLow, "memory.low", l.MemoryLow);
        Add(ResourceKeys.MemoryHigh, "memory.high", l.MemoryHigh);
        Add(ResourceKeys.MemoryMax, "memory.max", l.MemoryMax);
        if (enabled.FileInRoot("memory.swap.max"))
        {
            Add(ResourceKeys.MemorySwapMax, "memory.swap.max", l.MemorySwapMax);
        }

        void Add(string key, string file, Limit? limit)
        {
            if (limit is { } v)
            {
                into.Add(LimitSetting.Simple(key, Path.Combine(dir, file), Values.MemoryV2(v), Values.NormaliseMemory));
            }
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        if (r.Read(dir, "memory.current"))
        {
            s.MemoryCurrentBytes = r.Single(out _);
        }
        if (r.Read(dir, "memory.peak", optional: true)) // since 5.19
        {
            s.MemoryPeakBytes = r.Single(out _);
        }
        if (r.Read(dir, "memory.stat"))
        {
            var inactiveFile = r.Keyed("inactive_file"u8);
            if (s.MemoryCurrentBytes is { } usage && inactiveFile is { } inactive)
            {
                s.MemoryWorkingSetBytes = usage > inactive ? usage - inactive : 0;
            }
        }
        if (r.Read(dir, "memory.swap.current", optional: true))
        {
            s.SwapCurrentBytes = r.Single(out _);
        }
        if (r.Read(dir, "memory.events"))
        {
            // Hierarchical count (memory.events.local has this cgroup alone).
            s.OomKills = r.Keyed("oom_kill"u8);
        }
        if (!r.UsageOnly && r.Read(dir, "memory.max"))
        {
            s.MemoryMaxBytes = r.LimitValue();
        }
        if (r.Read(dir, "memory.pressure", optional: true))
        {
            s.MemoryPressure = r.Pressure();
        }
    }
}
