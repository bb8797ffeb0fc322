namespace Supervisor.Metrics.Exposition;

/// <summary>The metric set of README "Metrics": names, types and help texts, in the order they are written.</summary>
internal static class Families
{
    private static MetricFamily G(string name, string help) => new(name, "gauge", help);
    private static MetricFamily C(string name, string help) => new(name, "counter", help);
    private static MetricFamily H(string name, string help) => new(name, "histogram", help);

    public static readonly MetricFamily State = G("supervisor_unit_state", "1 for the unit's current active state, 0 for the others (like node_exporter's systemd collector).");
    public static readonly MetricFamily SubState = G("supervisor_unit_sub_state_info", "The unit's sub-state, as a label; always 1.");
    public static readonly MetricFamily Restarts = C("supervisor_unit_restarts_total", "Automatic restarts of the unit.");
    public static readonly MetricFamily StartTime = G("supervisor_unit_start_time_seconds", "When the unit last became active, as a Unix timestamp.");
    public static readonly MetricFamily LastExit = G("supervisor_unit_last_exit_code", "Exit status of the unit's last main process (128+signal when killed).");
    public static readonly MetricFamily Cpu = C("supervisor_unit_cpu_usage_seconds_total", "CPU time used by the unit's cgroup (cpuacct.usage / cpu.stat usage_usec).");
    public static readonly MetricFamily Throttled = C("supervisor_unit_cpu_throttled_seconds_total", "Time the unit's cgroup was throttled by its CPU quota (cpu.stat).");
    public static readonly MetricFamily ThrottledPeriods = C("supervisor_unit_cpu_throttled_periods_total", "Quota periods in which the unit's cgroup was throttled (cpu.stat nr_throttled).");
    public static readonly MetricFamily CpuQuota = G("supervisor_unit_cpu_quota_cores", "The unit's CPU quota in CPUs (CPUQuota/100); absent when unlimited.");
    public static readonly MetricFamily Memory = G("supervisor_unit_memory_usage_bytes", "Memory used by the unit's cgroup (memory.current / memory.usage_in_bytes).");
    public static readonly MetricFamily WorkingSet = G("supervisor_unit_memory_working_set_bytes", "Memory usage minus inactive file cache, as cAdvisor computes it.");
    public static readonly MetricFamily MemoryPeak = G("supervisor_unit_memory_peak_bytes", "Highest memory usage of the unit's cgroup (memory.peak / memory.max_usage_in_bytes).");
    public static readonly MetricFamily MemoryLimit = G("supervisor_unit_memory_limit_bytes", "The unit's MemoryMax; absent when infinity.");
    public static readonly MetricFamily Swap = G("supervisor_unit_swap_usage_bytes", "Swap used by the unit's cgroup (memory.swap.current; v1 memsw minus usage).");
    public static readonly MetricFamily OomKills = C("supervisor_unit_oom_kills_total", "Processes of the unit killed by the OOM killer (memory.events oom_kill / memory.oom_control).");
    public static readonly MetricFamily Tasks = G("supervisor_unit_tasks", "Processes and threads in the unit's cgroup (pids.current).");
    public static readonly MetricFamily TasksLimit = G("supervisor_unit_tasks_limit", "The unit's TasksMax; absent when infinity.");
    public static readonly MetricFamily IoRead = C("supervisor_unit_io_read_bytes_total", "Bytes read by the unit from block devices (io.stat rbytes / blkio service bytes).");
    public static readonly MetricFamily IoWrite = C("supervisor_unit_io_write_bytes_total", "Bytes written by the unit to block devices (io.stat wbytes / blkio service bytes).");
    public static readonly MetricFamily PressureCpu = C("supervisor_unit_pressure_cpu_waiting_seconds_total", "Time some of the unit's tasks waited for CPU (cpu.pressure some total; cgroup v2).");
    public static readonly MetricFamily PressureMemory = C("supervisor_unit_pressure_memory_waiting_seconds_total", "Time some of the unit's tasks waited for memory (memory.pressure some total; cgroup v2).");
    public static readonly MetricFamily PressureIo = C("supervisor_unit_pressure_io_waiting_seconds_total", "Time some of the unit's tasks waited for IO (io.pressure some total; cgroup v2).");
    public static readonly MetricFamily SandboxInfo = G("supervisor_unit_sandbox_info", "The unit's declared isolation, as labels; always 1.");
    public static readonly MetricFamily SandboxDrift = G("supervisor_unit_sandbox_drift", "1 when the unit's live isolation no longer matches its declaration (what `supervisor inspect` checks), 0 when it does; absent when not running.");
    public static readonly MetricFamily ProbeSuccess = G("supervisor_unit_probe_success", "1 while the unit's [Health] probe passes by its thresholds, 0 while it has failed; absent before a verdict and while the unit is down.");
    public static readonly MetricFamily ProbeDuration = H("supervisor_unit_probe_duration_seconds", "Time one run of a [Health] probe took, failed runs included.");
    public static readonly MetricFamily SeccompDenials = C("supervisor_unit_seccomp_denials_total", "System calls the unit's SystemCallFilter denied (answered by the supervisor from the filter's listener), by call.");
    public static readonly MetricFamily Units = G("supervisor_units", "Units by active state.");
    public static readonly MetricFamily ReconcileDuration = H("supervisor_reconcile_duration_seconds", "Time one reconcile took, from reading the unit files to the last action.");
    public static readonly MetricFamily ReconcileActions = C("supervisor_reconcile_actions_total", "Reconcile actions taken, by kind.");
    public static readonly MetricFamily DriftRepairs = C("supervisor_drift_repairs_total", "Declared values found changed by hand and put back, by kind.");
    public static readonly MetricFamily LogDropped = C("supervisor_log_lines_dropped_total", "Lines of unit output that could not be written to the unit's log.");
    public static readonly MetricFamily ScrapeErrors = C("supervisor_scrape_errors_total", "Values that could not be read during a scrape (a cgroup file vanished as a unit stopped); the series is skipped.");
    public static readonly MetricFamily BuildInfo = G("supervisor_build_info", "Always 1; the labels say the version and the cgroup layout.");

    /// <summary>Bounds of both histograms: 1 ms doubling to 8.192 s.</summary>
    public static readonly Histogram.Bounds Durations = new(0.001, 2, 14);

    /// <summary>The per-unit series with the unit as their only label, from the second family on (states and sub-states come first).</summary>
    public static readonly (MetricFamily Family, Func<UnitSeries, double?> Value)[] UnitValuesBeforeSandbox =
    [
        (Restarts, u => u.Restarts),
        (StartTime, u => u.Sample.StartTimeSeconds),
        (LastExit, u => u.Sample.LastExitCode),
        (Cpu, u => u.Exported(UnitSeries.Counter.Cpu)),
        (Throttled, u => u.Exported(UnitSeries.Counter.Throttled)),
        (ThrottledPeriods, u => u.Exported(UnitSeries.Counter.ThrottledPeriods)),
        (CpuQuota, u => u.Sample.CpuQuotaCores),
        (Memory, u => u.Sample.Stats?.MemoryCurrentBytes),
        (WorkingSet, u => u.Sample.Stats?.MemoryWorkingSetBytes),
        (MemoryPeak, u => u.Sample.Stats?.MemoryPeakBytes),
        (MemoryLimit, u => u.Sample.MemoryLimitBytes),
        (Swap, u => u.Sample.Stats?.SwapCurrentBytes),
        (OomKills, u => u.Exported(UnitSeries.Counter.OomKills)),
        (Tasks, u => u.Sample.Stats?.TasksCurrent),
        (TasksLimit, u => u.Sample.TasksLimit),
        (IoRead, u => u.Exported(UnitSeries.Counter.IoRead)),
        (IoWrite, u => u.Exported(UnitSeries.Counter.IoWrite)),
        (PressureCpu, u => u.Exported(UnitSeries.Counter.PressureCpu)),
        (PressureMemory, u => u.Exported(UnitSeries.Counter.PressureMemory)),
        (PressureIo, u => u.Exported(UnitSeries.Counter.PressureIo)),
    ];
}
