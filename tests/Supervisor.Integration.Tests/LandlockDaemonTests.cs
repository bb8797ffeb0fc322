namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #16 item 4, Landlock, with the real daemon: a unit whose Landlock rules leave out
/// /etc/passwd cannot read it from inside while /etc/hostname, listed, is read; the same script
/// without the keys reads both; the service runs with no_new_privs, and inspect has a landlock
/// line that says the ruleset cannot be seen from /proc, with no drift reported.
/// </summary>
public class LandlockDaemonTests
{
    private const string Script = "cat /etc/passwd >&2; echo passwd-rc=$?; cat /etc/hostname >&2; echo hostname-rc=$?; exec sleep 1000";

    private static string Logs(Daemon d, string unit) => d.Cli("logs", unit, "--state-dir", d.State).Out;

    [Fact]
    public async Task A_file_outside_the_rules_is_refused_inside_and_read_without_the_keys()
    {
        Daemon.RequireRoot();
        if (Linux.Landlock.Abi < 1)
            Assert.Skip($"no Landlock: {Linux.Landlock.Unavailable}");
        await using var d = new Daemon();
        d.WriteUnit("ll", $"[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"{Script}\"]\n[Sandbox]\n" +
            "LandlockExecutePaths = [\"/usr\", \"/bin\", \"/lib\", \"-/lib64\"]\nLandlockReadOnlyPaths = [\"/etc/hostname\"]\n");
        d.WriteUnit("free", $"[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"{Script}\"]\n");
        d.Start();
        d.WaitForState("ll", "active", "running");
        d.WaitForState("free", "active", "running");

        d.WaitFor(() => Logs(d, "ll").Contains("hostname-rc=", StringComparison.Ordinal), "ll's output");
        var confined = Logs(d, "ll");
        Assert.Contains("passwd-rc=1", confined);
        Assert.Contains("Permission denied", confined);
        Assert.Contains("hostname-rc=0", confined);
        d.WaitFor(() => Logs(d, "free").Contains("hostname-rc=", StringComparison.Ordinal), "free's output");
        Assert.Contains("passwd-rc=0", Logs(d, "free"));

        Assert.Contains("NoNewPrivs:\t1", File.ReadAllLines($"/proc/{d.MainPid("ll")}/status"));
        var inspect = d.Cli("inspect", "ll").Out;
        Assert.Contains(inspect.Split('\n'), l => l.TrimStart().StartsWith("landlock ", StringComparison.Ordinal) &&
            l.Contains("declared ABI ", StringComparison.Ordinal) && l.Contains("filesystem (5 paths)", StringComparison.Ordinal) &&
            l.EndsWith("found not observable from /proc", StringComparison.Ordinal));
        Assert.DoesNotContain("DIFF", inspect);
    }
}
