using Supervisor.Sandbox.Launch;

namespace Supervisor.Sandbox.Tests;

public class HelperLocatorTests
{
    [Fact]
    public void The_build_puts_the_helper_next_to_the_assembly()
    {
        // Copied to every dependant's output by the Supervisor.Sandbox project.
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, HelperLocator.FileName)));
        if (Environment.GetEnvironmentVariable(HelperLocator.EnvironmentVariable) is null)
            Assert.Equal(Path.Combine(AppContext.BaseDirectory, HelperLocator.FileName), HelperLocator.Find());
    }

    [Fact]
    public async Task Waiting_asynchronously_reaps_the_service_through_its_pidfd()
    {
        Support.Host.RequireRoot();
        using var p = SandboxLauncher.Start(Support.Probe.Plan("exit", "3"), "test", Support.Host.HelperPath);
        var status = await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, status.Code);
        Assert.True(p.TryGetExitStatus(out var again));
        Assert.Equal(status, again);
        Assert.False(p.Signal(15), "a reaped process cannot be signalled");
    }

    [Fact]
    public async Task Many_services_are_awaited_together_and_each_gets_its_own_status()
    {
        Support.Host.RequireRoot();
        var processes = Enumerable.Range(1, 20)
            .Select(i => SandboxLauncher.Start(Support.Probe.Plan("exit", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), "test", Support.Host.HelperPath))
            .ToList();
        try
        {
            var statuses = await Task.WhenAll(processes.Select(p => p.WaitForExitAsync(TestContext.Current.CancellationToken)));
            Assert.Equal(Enumerable.Range(1, 20), statuses.Select(s => s.Code ?? -1));
        }
        finally
        {
            processes.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public async Task A_cancelled_wait_leaves_the_process_to_a_later_wait()
    {
        Support.Host.RequireRoot();
        using var run = new Support.Runner.Running(Support.Probe.Plan());
        using var cts = new CancellationTokenSource();
        var wait = run.Process.WaitForExitAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.True(run.Process.Signal(9));
        var status = await run.Process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(9, status.Signal);
    }
}
