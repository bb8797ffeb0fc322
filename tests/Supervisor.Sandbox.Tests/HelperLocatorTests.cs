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
        Assert.Equal(3, status.ExitCode);
        Assert.True(p.TryGetExitStatus(out var again));
        Assert.Equal(status, again);
        Assert.False(p.Signal(15), "a reaped process cannot be signalled");
    }
}
