namespace Supervisor.Supervision.Logs;

/// <summary>
/// A per-unit rate limit for the lines the daemon writes about its units, with journald's
/// semantics for LogRateLimitIntervalSec= / LogRateLimitBurst= (journald.conf(5), systemd.exec(5)):
/// an interval begins with a unit's first message; within it at most Burst messages pass and the
/// rest are suppressed and counted; the first message after the interval has ended starts the
/// next interval and passes, and the caller writes "Suppressed N messages from UNIT" before it,
/// as journald does. An interval or a burst of 0 turns the limit off. Unlike journald, the burst
/// is not scaled by the free disk space, and there are no separate pools per priority.
/// Thread-safe; time comes from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class LogRateLimiter
{
    /// <summary>journald's default RateLimitIntervalSec=.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);

    /// <summary>journald's default RateLimitBurst=.</summary>
    public const int DefaultBurst = 10_000;

    private sealed class Window
    {
        public long Begin;
        public int Passed;
        public long Suppressed;
    }

    private readonly TimeProvider _clock;
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);

    public TimeSpan Interval { get; }
    public int Burst { get; }

    public LogRateLimiter(TimeProvider clock, TimeSpan interval, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(burst);
        _clock = clock;
        Interval = interval;
        Burst = burst;
    }

    public LogRateLimiter(TimeProvider clock) : this(clock, DefaultInterval, DefaultBurst)
    {
    }

    /// <summary>
    /// Whether a message about <paramref name="unit"/> may be written now. When it may and
    /// messages were suppressed in the interval that just ended, <paramref name="suppressedBefore"/>
    /// says how many: write <see cref="SuppressedMessage"/> first. Otherwise it is 0.
    /// </summary>
    public bool TryAcquire(string unit, out long suppressedBefore)
    {
        suppressedBefore = 0;
        if (Interval == TimeSpan.Zero || Burst == 0) return true;
        long now = _clock.GetTimestamp();
        lock (_windows)
        {
            if (!_windows.TryGetValue(unit, out var w))
            {
                _windows[unit] = new Window { Begin = now, Passed = 1 };
                return true;
            }
            // journald: a new interval once begin + interval < now (the end itself still belongs to the old one).
            if (_clock.GetElapsedTime(w.Begin, now) > Interval)
            {
                suppressedBefore = w.Suppressed;
                (w.Begin, w.Passed, w.Suppressed) = (now, 1, 0);
                return true;
            }
            if (w.Passed < Burst)
            {
                w.Passed++;
                return true;
            }
            w.Suppressed++;
            return false;
        }
    }

    /// <summary>The line journald writes for the messages it suppressed.</summary>
    public static string SuppressedMessage(string unit, long count) => $"Suppressed {count} messages from {unit}";

    /// <summary>A unit that is gone (its file was removed) no longer holds an entry.</summary>
    public void Forget(string unit)
    {
        lock (_windows) _windows.Remove(unit);
    }
}
