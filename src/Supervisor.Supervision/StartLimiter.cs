using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// StartLimitIntervalSec / StartLimitBurst: more than Burst starts within Interval and the unit
/// goes to failed with result start-limit-hit until reset-failed (or its file changes). Manual
/// starts count too, as in systemd. Time comes from a <see cref="TimeProvider"/>, so it is
/// tested with a fake clock.
/// </summary>
public sealed class StartLimiter(TimeProvider clock)
{
    private readonly Queue<long> _starts = new();

    public int Count => _starts.Count;

    /// <summary>Records a start; false when this start exceeds the limit (the start must not happen).</summary>
    public bool TryStart(ServiceSection service)
    {
        if (service.StartLimitIntervalSec.Microseconds == 0) return true;
        long now = clock.GetTimestamp();
        var window = service.StartLimitIntervalSec.ToTimeSpan();
        while (_starts.Count > 0 && !window.Equals(Timeout.InfiniteTimeSpan) && clock.GetElapsedTime(_starts.Peek(), now) >= window)
            _starts.Dequeue();
        if (_starts.Count >= service.StartLimitBurst) return false;
        _starts.Enqueue(now);
        return true;
    }

    public void Reset() => _starts.Clear();
}
