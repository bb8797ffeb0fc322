using Supervisor.Runtime.Launch;

namespace Supervisor.Runtime.Tests;

/// <summary>
/// A burst of starts (1000 units at boot) runs its blocking launches side by side from the first
/// one, up to the queue's width, and never wider; after the burst one thread stays for restarts.
/// </summary>
public sealed class LaunchQueueTests
{
    // Only a bound against hanging forever when the behaviour is broken; nothing waits it out when it works.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_burst_of_blocking_starts_runs_as_wide_as_the_queue_allows_at_once()
    {
        var queue = new LaunchQueue(width: 6);
        // Each start blocks until all six are running together: on two threads (the pool's start on
        // a 2-CPU host) or one after another, the barrier is never reached.
        using var together = new Barrier(6);
        using var done = new CountdownEvent(6);
        int reached = 0;
        for (int i = 0; i < 6; i++)
            queue.Enqueue(() =>
            {
                if (together.SignalAndWait(Bound)) Interlocked.Increment(ref reached);
                done.Signal();
            });
        Assert.True(done.Wait(Bound, TestContext.Current.CancellationToken), "the six starts did not finish");
        Assert.Equal(6, Volatile.Read(ref reached));
        Assert.Equal(6, queue.Threads);
    }

    [Fact]
    public void Never_more_starts_at_once_than_the_width_and_every_start_runs()
    {
        var queue = new LaunchQueue(width: 3);
        using var release = new ManualResetEventSlim();
        using var done = new CountdownEvent(20);
        int running = 0, most = 0;
        for (int i = 0; i < 20; i++)
            queue.Enqueue(() =>
            {
                int now = Interlocked.Increment(ref running);
                int seen;
                while (now > (seen = Volatile.Read(ref most)) && Interlocked.CompareExchange(ref most, now, seen) != seen) { }
                release.Wait(Bound);
                Interlocked.Decrement(ref running);
                done.Signal();
            });
        // Three are blocked in their start, the other seventeen wait their turn.
        SpinWait.SpinUntil(() => Volatile.Read(ref running) == 3, Bound);
        Assert.Equal(3, queue.Threads);
        release.Set();
        Assert.True(done.Wait(Bound, TestContext.Current.CancellationToken), "not every start ran");
        Assert.Equal(3, Volatile.Read(ref most));
    }
}
