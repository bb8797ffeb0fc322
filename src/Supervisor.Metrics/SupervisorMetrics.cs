using Prometheus;
using Supervisor.Cgroups;

namespace Supervisor.Metrics;

/// <summary>
/// The metric set of README "Metrics", on its own registry. Values are read when Prometheus
/// scrapes (a before-collect callback asks for fresh samples), never polled on a timer.
/// prometheus-net swallows exceptions from that callback, so failures are caught here and counted
/// in supervisor_scrape_errors_total. A removed unit's series are removed (RemoveLabelled), and
/// counters read from cgroup files stay monotonic across the cgroup being recreated on restart.
/// </summary>
public sealed class SupervisorMetrics
{
    public static readonly string[] States = ["active", "reloading", "inactive", "failed", "activating", "deactivating"];

    private readonly Func<IReadOnlyList<UnitSample>> _sample;
    private readonly object _gate = new();
    private readonly Dictionary<(string Unit, string Counter), (double Offset, double LastRaw)> _counters = [];
    private HashSet<string> _known = new(StringComparer.Ordinal);
    // The label sets last exported per unit for info-style series, so a change removes only the
    // old series (scanning every series of the metric per unit would make a scrape O(units²)).
    private readonly Dictionary<string, string> _lastSub = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _lastSandbox = new(StringComparer.Ordinal);

    private readonly Gauge _sandboxDrift, _probeSuccess;
    private readonly Histogram _probeDuration;
    private readonly Gauge _state, _subState, _startTime, _lastExit, _cpuQuota, _memory, _workingSet, _memoryPeak, _memoryLimit, _swap,
        _tasks, _tasksLimit, _sandboxInfo, _units, _buildInfo;
    private readonly Counter _restarts, _cpu, _throttled, _throttledPeriods, _oomKills, _ioRead, _ioWrite, _psiCpu, _psiMemory, _psiIo,
        _scrapeErrors, _logDropped, _reconcileActions, _driftRepairs, _seccompDenials;
    private readonly Histogram _reconcileDuration;

    public CollectorRegistry Registry { get; }

    public SupervisorMetrics(CollectorRegistry registry, Func<IReadOnlyList<UnitSample>> sample, string version, string cgroupLayout)
    {
        Registry = registry;
        _sample = sample;
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        Gauge G(string name, string help, params string[] labels) => f.CreateGauge(name, help, new GaugeConfiguration { LabelNames = labels });
        Counter C(string name, string help, params string[] labels) => f.CreateCounter(name, help, new CounterConfiguration { LabelNames = labels });

        _state = G("supervisor_unit_state", "1 for the unit's current active state, 0 for the others (like node_exporter's systemd collector).", "unit", "state");
        _subState = G("supervisor_unit_sub_state_info", "The unit's sub-state, as a label; always 1.", "unit", "sub_state");
        _restarts = C("supervisor_unit_restarts_total", "Automatic restarts of the unit.", "unit");
        _startTime = G("supervisor_unit_start_time_seconds", "When the unit last became active, as a Unix timestamp.", "unit");
        _lastExit = G("supervisor_unit_last_exit_code", "Exit status of the unit's last main process (128+signal when killed).", "unit");
        _cpu = C("supervisor_unit_cpu_usage_seconds_total", "CPU time used by the unit's cgroup (cpuacct.usage / cpu.stat usage_usec).", "unit");
        _throttled = C("supervisor_unit_cpu_throttled_seconds_total", "Time the unit's cgroup was throttled by its CPU quota (cpu.stat).", "unit");
        _throttledPeriods = C("supervisor_unit_cpu_throttled_periods_total", "Quota periods in which the unit's cgroup was throttled (cpu.stat nr_throttled).", "unit");
        _cpuQuota = G("supervisor_unit_cpu_quota_cores", "The unit's CPU quota in CPUs (CPUQuota/100); absent when unlimited.", "unit");
        _memory = G("supervisor_unit_memory_usage_bytes", "Memory used by the unit's cgroup (memory.current / memory.usage_in_bytes).", "unit");
        _workingSet = G("supervisor_unit_memory_working_set_bytes", "Memory usage minus inactive file cache, as cAdvisor computes it.", "unit");
        _memoryPeak = G("supervisor_unit_memory_peak_bytes", "Highest memory usage of the unit's cgroup (memory.peak / memory.max_usage_in_bytes).", "unit");
        _memoryLimit = G("supervisor_unit_memory_limit_bytes", "The unit's MemoryMax; absent when infinity.", "unit");
        _swap = G("supervisor_unit_swap_usage_bytes", "Swap used by the unit's cgroup (memory.swap.current; v1 memsw minus usage).", "unit");
        _oomKills = C("supervisor_unit_oom_kills_total", "Processes of the unit killed by the OOM killer (memory.events oom_kill / memory.oom_control).", "unit");
        _tasks = G("supervisor_unit_tasks", "Processes and threads in the unit's cgroup (pids.current).", "unit");
        _tasksLimit = G("supervisor_unit_tasks_limit", "The unit's TasksMax; absent when infinity.", "unit");
        _ioRead = C("supervisor_unit_io_read_bytes_total", "Bytes read by the unit from block devices (io.stat rbytes / blkio service bytes).", "unit");
        _ioWrite = C("supervisor_unit_io_write_bytes_total", "Bytes written by the unit to block devices (io.stat wbytes / blkio service bytes).", "unit");
        _psiCpu = C("supervisor_unit_pressure_cpu_waiting_seconds_total", "Time some of the unit's tasks waited for CPU (cpu.pressure some total; cgroup v2).", "unit");
        _psiMemory = C("supervisor_unit_pressure_memory_waiting_seconds_total", "Time some of the unit's tasks waited for memory (memory.pressure some total; cgroup v2).", "unit");
        _psiIo = C("supervisor_unit_pressure_io_waiting_seconds_total", "Time some of the unit's tasks waited for IO (io.pressure some total; cgroup v2).", "unit");
        _sandboxInfo = G("supervisor_unit_sandbox_info", "The unit's declared isolation, as labels; always 1.", "unit", "namespaces", "seccomp", "apparmor", "selinux", "no_new_privs");
        _sandboxDrift = G("supervisor_unit_sandbox_drift", "1 when the unit's live isolation no longer matches its declaration (what `supervisor inspect` checks), 0 when it does; absent when not running.", "unit");
        _probeSuccess = G("supervisor_unit_probe_success", "1 while the unit's [Health] probe passes by its thresholds, 0 while it has failed; absent before a verdict and while the unit is down.", "unit", "probe");
        _probeDuration = f.CreateHistogram("supervisor_unit_probe_duration_seconds", "Time one run of a [Health] probe took, failed runs included.",
            new HistogramConfiguration { LabelNames = ["unit", "probe"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        _seccompDenials = C("supervisor_unit_seccomp_denials_total", "System calls the unit's SystemCallFilter denied (answered by the supervisor from the filter's listener), by call.", "unit", "syscall");
        _units = G("supervisor_units", "Units by active state.", "state");
        _reconcileDuration = f.CreateHistogram("supervisor_reconcile_duration_seconds", "Time one reconcile took, from reading the unit files to the last action.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        _reconcileActions = C("supervisor_reconcile_actions_total", "Reconcile actions taken, by kind.", "action");
        _driftRepairs = C("supervisor_drift_repairs_total", "Declared values found changed by hand and put back, by kind.", "unit", "kind");
        _logDropped = C("supervisor_log_lines_dropped_total", "Lines of unit output that could not be written to the unit's log.", "unit");
        _scrapeErrors = C("supervisor_scrape_errors_total", "Values that could not be read during a scrape (a cgroup file vanished as a unit stopped); the series is skipped.");
        _buildInfo = G("supervisor_build_info", "Always 1; the labels say the version and the cgroup layout.", "version", "cgroup_layout");
        _buildInfo.WithLabels(version, cgroupLayout).Set(1);

        registry.AddBeforeCollectCallback(Collect);
    }

    public void RecordReconcile(TimeSpan duration, IEnumerable<string> actionKinds)
    {
        _reconcileDuration.Observe(duration.TotalSeconds);
        foreach (var kind in actionKinds) _reconcileActions.WithLabels(kind).Inc();
    }

    public void RecordProbe(string unit, string probe, double seconds)
    {
        lock (_gate) _probeDuration.WithLabels(unit, probe).Observe(seconds);
    }

    public void RecordDriftRepair(string unit, string kind) => _driftRepairs.WithLabels(unit, kind).Inc();

    /// <summary>Runs before every scrape: fresh values for every unit, series of removed units gone.</summary>
    internal void Collect()
    {
        lock (_gate)
        {
            IReadOnlyList<UnitSample> samples;
            try
            {
                samples = _sample();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _scrapeErrors.Inc();
                return;
            }
            var now = new HashSet<string>(StringComparer.Ordinal);
            var byState = States.ToDictionary(s => s, _ => 0);
            foreach (var s in samples)
            {
                now.Add(s.Unit);
                try
                {
                    Update(s);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _scrapeErrors.Inc();
                }
                if (byState.ContainsKey(s.ActiveState)) byState[s.ActiveState]++;
            }
            foreach (var (state, count) in byState) _units.WithLabels(state).Set(count);
            foreach (var gone in _known.Where(u => !now.Contains(u)).ToList()) Remove(gone);
            _known = now;
        }
    }

    private void Update(UnitSample s)
    {
        var u = s.Unit;
        foreach (var state in States) _state.WithLabels(u, state).Set(state == s.ActiveState ? 1 : 0);
        if (_lastSub.TryGetValue(u, out var oldSub) && oldSub != s.SubState) _subState.RemoveLabelled(u, oldSub);
        _lastSub[u] = s.SubState;
        _subState.WithLabels(u, s.SubState).Set(1);
        _restarts.WithLabels(u).IncTo(s.Restarts);
        SetOrRemove(_startTime, u, s.StartTimeSeconds);
        SetOrRemove(_lastExit, u, s.LastExitCode);
        SetOrRemove(_cpuQuota, u, s.CpuQuotaCores);
        SetOrRemove(_memoryLimit, u, s.MemoryLimitBytes);
        SetOrRemove(_tasksLimit, u, s.TasksLimit);
        string[] sandbox = [u, s.Namespaces, s.Seccomp ? "1" : "0", s.AppArmor, s.SELinux, s.NoNewPrivileges ? "1" : "0"];
        if (_lastSandbox.TryGetValue(u, out var oldSandbox) && !oldSandbox.AsSpan().SequenceEqual(sandbox)) _sandboxInfo.RemoveLabelled(oldSandbox);
        _lastSandbox[u] = sandbox;
        _sandboxInfo.WithLabels(sandbox).Set(1);
        _logDropped.WithLabels(u).IncTo(s.LogLinesDropped);
        SetOrRemove(_sandboxDrift, u, s.SandboxDrift is { } drift ? (drift ? 1.0 : 0.0) : null);
        foreach (var (syscall, count) in s.SeccompDenials) _seccompDenials.WithLabels(u, syscall).IncTo(count);
        foreach (var probe in (string[])["startup", "liveness", "readiness"])
        {
            var verdict = s.Probes.FirstOrDefault(p => p.Probe == probe);
            if (verdict.Probe is null) _probeSuccess.RemoveLabelled(u, probe);
            else _probeSuccess.WithLabels(u, probe).Set(verdict.Ok ? 1 : 0);
        }

        var st = s.Stats;
        if (st is not null && st.ReadErrors > 0) _scrapeErrors.Inc(st.ReadErrors);
        SetOrRemove(_memory, u, st?.MemoryCurrentBytes);
        SetOrRemove(_workingSet, u, st?.MemoryWorkingSetBytes);
        SetOrRemove(_memoryPeak, u, st?.MemoryPeakBytes);
        SetOrRemove(_swap, u, st?.SwapCurrentBytes);
        SetOrRemove(_tasks, u, st?.TasksCurrent);
        Monotonic(_cpu, u, "cpu", st?.CpuUsageNs / 1e9);
        Monotonic(_throttled, u, "throttled", st?.CpuThrottledNs / 1e9);
        Monotonic(_throttledPeriods, u, "periods", st?.CpuThrottledPeriods);
        Monotonic(_oomKills, u, "oom", st?.OomKills);
        Monotonic(_ioRead, u, "ioread", st?.IoReadBytes);
        Monotonic(_ioWrite, u, "iowrite", st?.IoWriteBytes);
        Monotonic(_psiCpu, u, "psicpu", st?.CpuPressure?.SomeUs / 1e6);
        Monotonic(_psiMemory, u, "psimem", st?.MemoryPressure?.SomeUs / 1e6);
        Monotonic(_psiIo, u, "psiio", st?.IoPressure?.SomeUs / 1e6);
    }

    /// <summary>
    /// A cgroup is recreated when its unit restarts, and its counters start again from 0; the
    /// exported counter adds what the previous cgroup had counted, so rate() sees no false reset.
    /// No value (not running, or not on this host) leaves the series as it was.
    /// </summary>
    private void Monotonic(Counter counter, string unit, string name, double? raw)
    {
        if (raw is not { } value) return;
        var key = (unit, name);
        var (offset, last) = _counters.GetValueOrDefault(key);
        if (value < last) offset += last;
        _counters[key] = (offset, value);
        counter.WithLabels(unit).IncTo(offset + value);
    }

    private static void SetOrRemove(Gauge gauge, string unit, double? value)
    {
        if (value is { } v) gauge.WithLabels(unit).Set(v);
        else gauge.RemoveLabelled(unit);
    }

    private static void SetOrRemove(Gauge gauge, string unit, ulong? value) => SetOrRemove(gauge, unit, value is { } v ? (double)v : null);
    private static void SetOrRemove(Gauge gauge, string unit, int? value) => SetOrRemove(gauge, unit, value is { } v ? (double)v : null);

    private static void RemoveWhere(Collector<Gauge.Child> metric, string unit)
    {
        foreach (var labels in metric.GetAllLabelValues().Where(l => l[0] == unit).ToList())
            metric.RemoveLabelled(labels);
    }

    private static void RemoveWhere(Collector<Counter.Child> metric, string unit)
    {
        foreach (var labels in metric.GetAllLabelValues().Where(l => l[0] == unit).ToList())
            metric.RemoveLabelled(labels);
    }

    private void Remove(string unit)
    {
        foreach (var g in new[] { _probeSuccess, _sandboxDrift, _state, _subState, _startTime, _lastExit, _cpuQuota, _memory, _workingSet, _memoryPeak, _memoryLimit, _swap, _tasks, _tasksLimit, _sandboxInfo })
            RemoveWhere(g, unit);
        foreach (var c in new[] { _restarts, _cpu, _throttled, _throttledPeriods, _oomKills, _ioRead, _ioWrite, _psiCpu, _psiMemory, _psiIo, _logDropped, _driftRepairs, _seccompDenials })
            RemoveWhere(c, unit);
        foreach (var labels in _probeDuration.GetAllLabelValues().Where(l => l[0] == unit).ToList()) _probeDuration.RemoveLabelled(labels);
        foreach (var key in _counters.Keys.Where(k => k.Unit == unit).ToList()) _counters.Remove(key);
        _lastSub.Remove(unit);
        _lastSandbox.Remove(unit);
    }
}
