using Supervisor.Linux;
using Microsoft.Extensions.Time.Testing;
using Supervisor.Supervision.Logs;

namespace Supervisor.Supervision.Tests;

public class LogRateLimiterTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    /// <summary>Acquires n times; returns how many passed and the suppressed counts reported on the way.</summary>
    private static (int Passed, List<long> Reported) Send(LogRateLimiter limiter, string unit, int n)
    {
        int passed = 0;
        var reported = new List<long>();
        for (int i = 0; i < n; i++)
        {
            if (!limiter.TryAcquire(unit, out var suppressed)) continue;
            passed++;
            if (suppressed > 0) reported.Add(suppressed);
        }
        return (passed, reported);
    }

    [Fact]
    public void At_most_burst_messages_pass_per_interval_and_the_next_interval_reports_the_rest()
    {
        var limiter = new LogRateLimiter(_clock, TimeSpan.FromSeconds(30), 3);
        var (passed, reported) = Send(limiter, "flaky", 10);
        Assert.Equal(3, passed);
        Assert.Empty(reported);
        // The interval began with the first message; its end still belongs to it.
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, Send(limiter, "flaky", 2).Passed);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(limiter.TryAcquire("flaky", out var suppressed));
        Assert.Equal(9, suppressed);
        Assert.Equal("Suppressed 9 messages from flaky", LogRateLimiter.SuppressedMessage("flaky", suppressed));
        // Reported once: the rest of the new interval passes without it.
        (passed, reported) = Send(limiter, "flaky", 2);
        Assert.Equal(2, passed);
        Assert.Empty(reported);
    }

    [Fact]
    public void The_interval_starts_at_the_first_message_after_the_last_one_ended()
    {
        var limiter = new LogRateLimiter(_clock, TimeSpan.FromSeconds(10), 1);
        Assert.True(limiter.TryAcquire("web", out _));
        _clock.Advance(TimeSpan.FromSeconds(25));
        Assert.True(limiter.TryAcquire("web", out var none));
        Assert.Equal(0, none);
        // The new interval runs from t=25 s, not from a multiple of 10 s.
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(limiter.TryAcquire("web", out _));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(limiter.TryAcquire("web", out var one));
        Assert.Equal(1, one);
    }

    [Fact]
    public void Each_unit_has_its_own_limit()
    {
        var limiter = new LogRateLimiter(_clock, TimeSpan.FromSeconds(30), 2);
        Assert.Equal(2, Send(limiter, "noisy", 100).Passed);
        Assert.Equal(2, Send(limiter, "quiet", 2).Passed);
    }

    [Fact]
    public void An_interval_or_burst_of_zero_turns_the_limit_off()
    {
        Assert.Equal(1000, Send(new LogRateLimiter(_clock, TimeSpan.Zero, 5), "web", 1000).Passed);
        Assert.Equal(1000, Send(new LogRateLimiter(_clock, TimeSpan.FromSeconds(30), 0), "web", 1000).Passed);
    }

    [Fact]
    public void Journalds_defaults_and_a_forgotten_unit_starts_over()
    {
        var limiter = new LogRateLimiter(_clock);
        Assert.Equal((TimeSpan.FromSeconds(30), 10_000), (limiter.Interval, limiter.Burst));
        Assert.Equal(10_000, Send(limiter, "web", 10_005).Passed);
        limiter.Forget("web");
        Assert.True(limiter.TryAcquire("web", out var suppressed));
        Assert.Equal(0, suppressed);
    }
}
