using System.Text;
using Supervisor.Metrics.Exposition;

namespace Supervisor.Metrics;

/// <summary>
/// The metric set of README "Metrics", written straight into the Prometheus text format at each
/// scrape (<see cref="ScrapeAsync"/>): values are read when Prometheus scrapes, never polled on a timer.
/// Per unit, only what must outlive a scrape is kept (<see cref="UnitSeries"/>: its encoded label,
/// the counters' offsets); the text goes into one buffer reused from scrape to scrape, so a scrape
/// allocates no object per series (issue 18: prometheus-net's label lookup per series and its
/// serializer were a fifth of a 1000-unit scrape). A unit missing from a scrape loses its series;
/// info-style series (sub_state, sandbox_info) carry only the current label set; counters read
/// from cgroup files stay monotonic across the cgroup being recreated; a sample that cannot be
/// taken is counted in supervisor_scrape_errors_total and the last values are served.
/// </summary>
public sealed partial class SupervisorMetrics
{
    public static readonly string[] States = ["active", "reloading", "inactive", "failed", "activating", "deactivating"];
    private static readonly byte[][] StateLabels = [.. States.Select(s => Encoding.UTF8.GetBytes($",state=\"{s}\"}} "))];
    private static readonly string[] ProbeRoles = ["startup", "liveness", "readiness"];

    private readonly Func<IReadOnlyList<UnitSample>> _sample;
    private readonly byte[] _buildInfoLine;
    // The scrape's own state: one scrape at a time (the counters' offsets depend on the order of
    // reads), held until the text is sent, so the buffer is sent as it is, without a copy.
    private readonly SemaphoreSlim _scrapeGate = new(1, 1);
    private readonly Dictionary<string, UnitSeries> _units = new(StringComparer.Ordinal);
    private readonly List<UnitSeries> _current = [];
    private readonly List<string> _vanished = [];
    private readonly int[] _byState = new int[States.Length];
    private readonly ExpositionBuffer _text = new();
    private readonly ExpositionBuffer _labels = new();
    private long _generation;
    private long _scrapeErrors;
    // Fed by the runtime between scrapes, from its own threads.
    private readonly object _gate = new();
    private readonly Dictionary<(string Unit, string Probe), Histogram> _probeDurations = [];
    private readonly Dictionary<(string Unit, string Kind), long> _driftRepairs = [];
    private readonly Dictionary<string, long> _reconcileActions = new(StringComparer.Ordinal);
    private readonly Histogram _reconcileDuration = new(Families.Durations);

    public SupervisorMetrics(Func<IReadOnlyList<UnitSample>> sample, string version, string cgroupLayout)
    {
        _sample = sample;
        var line = new ExpositionBuffer();
        line.Append(Families.BuildInfo.Name);
        line.Append("{version=\""u8);
        line.AppendLabelValue(version);
        line.Append("\",cgroup_layout=\""u8);
        line.AppendLabelValue(cgroupLayout);
        line.Append("\"} 1\n"u8);
        _buildInfoLine = line.Written.ToArray();
    }

    public void RecordReconcile(TimeSpan duration, IEnumerable<string> actionKinds)
    {
        lock (_gate)
        {
            _reconcileDuration.Observe(duration.TotalSeconds);
            foreach (var kind in actionKinds) _reconcileActions[kind] = _reconcileActions.GetValueOrDefault(kind) + 1;
        }
    }

    public void RecordProbe(string unit, string probe, double seconds)
    {
        lock (_gate)
        {
            if (!_probeDurations.TryGetValue((unit, probe), out var h)) _probeDurations[(unit, probe)] = h = new Histogram(Families.Durations);
            h.Observe(seconds);
        }
    }

    public void RecordDriftRepair(string unit, string kind)
    {
        lock (_gate) _driftRepairs[(unit, kind)] = _driftRepairs.GetValueOrDefault((unit, kind)) + 1;
    }

    /// <summary>
    /// Samples every unit, writes the exposition and hands the text to <paramref name="send"/>
    /// (valid only until it returns: the buffer is the next scrape's).
    /// </summary>
    public async Task ScrapeAsync(Func<ReadOnlyMemory<byte>, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        await _scrapeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Collect();
            Render();
            await send(_text.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _scrapeGate.Release();
        }
    }

    /// <summary>One scrape as text (tests).</summary>
    internal string ScrapeText()
    {
        _scrapeGate.Wait();
        try
        {
            Collect();
            Render();
            return Encoding.UTF8.GetString(_text.Written);
        }
        finally
        {
            _scrapeGate.Release();
        }
    }

    private void Collect()
    {
        IReadOnlyList<UnitSample> samples;
        try
        {
            samples = _sample();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _scrapeErrors++;
            return; // the last scrape's values are served again
        }
        _generation++;
        _current.Clear();
        Array.Clear(_byState);
        foreach (var s in samples)
        {
            if (!_units.TryGetValue(s.Unit, out var series)) _units[s.Unit] = series = new UnitSeries(s.Unit);
            series.Update(s, _generation);
            _current.Add(series);
            if (s.Stats is { ReadErrors: > 0 } st) _scrapeErrors += st.ReadErrors;
            int state = Array.IndexOf(States, s.ActiveState);
            if (state >= 0) _byState[state]++;
        }
        ForgetVanished();
    }

    /// <summary>Units no longer sampled lose everything they had, the series fed between scrapes included.</summary>
    private void ForgetVanished()
    {
        _vanished.Clear();
        foreach (var (unit, series) in _units)
        {
            if (series.Generation != _generation) _vanished.Add(unit);
        }
        foreach (var unit in _vanished) _units.Remove(unit);
        lock (_gate)
        {
            foreach (var key in _probeDurations.Keys.Where(k => !_units.ContainsKey(k.Unit)).ToList()) _probeDurations.Remove(key);
            foreach (var key in _driftRepairs.Keys.Where(k => !_units.ContainsKey(k.Unit)).ToList()) _driftRepairs.Remove(key);
        }
    }
}
