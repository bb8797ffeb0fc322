namespace Supervisor.Metrics.Exposition;

/// <summary>
/// What is kept of one unit between scrapes: its label encoded once (unit="…" escaped), the
/// counters' offsets that keep them monotonic when the unit's cgroup is recreated, and the
/// high-water marks of the counters the manager reports (restarts, dropped log lines, seccomp
/// denials), which never go back either.
/// </summary>
internal sealed class UnitSeries(string unit)
{
    /// <summary>Counters read from cgroup files, in <see cref="Counter"/> order.</summary>
    public const int CgroupCounters = 9;

    public enum Counter { Cpu, Throttled, ThrottledPeriods, OomKills, IoRead, IoWrite, PressureCpu, PressureMemory, PressureIo }

    private readonly double[] _offset = new double[CgroupCounters];
    private readonly double[] _last = new double[CgroupCounters];
    private readonly double?[] _exported = new double?[CgroupCounters];

    /// <summary>The unit's label value, escaped, in UTF-8.</summary>
    public byte[] Label { get; } = ExpositionBuffer.Escaped(unit);

    /// <summary>This scrape's sample.</summary>
    public UnitSample Sample { get; private set; } = null!;

    /// <summary>The scrape that last saw the unit (a unit not seen in a scrape is removed).</summary>
    public long Generation { get; private set; }

    public double Restarts { get; private set; }

    public double LogLinesDropped { get; private set; }

    /// <summary>Denials by system call (high-water), null until the first.</summary>
    public Dictionary<string, double>? Denials { get; private set; }

    /// <summary>A cgroup counter's exported value; null until it was first read (then it stays, last value kept).</summary>
    public double? Exported(Counter counter) => _exported[(int)counter];

    public void Update(UnitSample s, long generation)
    {
        Sample = s;
        Generation = generation;
        Restarts = Math.Max(Restarts, s.Restarts);
        LogLinesDropped = Math.Max(LogLinesDropped, s.LogLinesDropped);
        foreach (var (syscall, count) in s.SeccompDenials)
        {
            Denials ??= new Dictionary<string, double>(StringComparer.Ordinal);
            Denials[syscall] = Math.Max(Denials.GetValueOrDefault(syscall), count);
        }
        var st = s.Stats;
        if (st is null)
        {
            return; // no cgroup now: counters keep their last values
        }
        Monotonic(Counter.Cpu, st.CpuUsageNs / 1e9);
        Monotonic(Counter.Throttled, st.CpuThrottledNs / 1e9);
        Monotonic(Counter.ThrottledPeriods, st.CpuThrottledPeriods);
        Monotonic(Counter.OomKills, st.OomKills);
        Monotonic(Counter.IoRead, st.IoReadBytes);
        Monotonic(Counter.IoWrite, st.IoWriteBytes);
        Monotonic(Counter.PressureCpu, st.CpuPressure?.SomeUs / 1e6);
        Monotonic(Counter.PressureMemory, st.MemoryPressure?.SomeUs / 1e6);
        Monotonic(Counter.PressureIo, st.IoPressure?.SomeUs / 1e6);
    }

    /// <summary>
    /// A cgroup is recreated when its unit starts again, and its counters start from 0: what the
    /// previous cgroup had counted is added, so rate() sees no false reset. No value (a file that
    /// could not be read, or none on this host) leaves the series as it was.
    /// </summary>
    private void Monotonic(Counter counter, double? raw)
    {
        if (raw is not { } value)
        {
            return;
        }
        int i = (int)counter;
        if (value < _last[i])
        {
            _offset[i] += _last[i];
        }
        _last[i] = value;
        _exported[i] = Math.Max(_exported[i] ?? 0, _offset[i] + value);
    }
}
