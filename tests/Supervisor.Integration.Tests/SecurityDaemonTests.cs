namespace Supervisor.Integration.Tests;

/// <summary>
/// `supervisor security UNIT` against the real daemon: a running unit is scored by what its main
/// process has (read from /proc, as inspect reads it), so a declaration changed after the start
/// (the daemon runs with --no-watch and is not told) shows up as a worse live score and a failing
/// "live isolation" line, while --units scores the new declaration as written.
/// </summary>
public class SecurityDaemonTests
{
    private const string Before = "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Sandbox]\nNoNewPrivileges = true\nPrivateNetwork = true\nCapabilityBoundingSet = [\"CAP_NET_BIND_SERVICE\"]\n";

    [Fact]
    public async Task A_running_unit_is_scored_live_and_a_declaration_its_process_does_not_have_scores_worse_live()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("web", Before);
        d.Start("--no-watch");
        d.WaitForState("web", "active", "running");

        var live = d.Cli("security", "web");
        Assert.True(live.Code == 0, live.Err);
        Assert.Contains($"web: running, process {d.MainPid("web")} (live)", live.Out);
        Assert.Matches(@"pass live isolation \(inspect\)\s+-\s+process \d+: all \d+ properties inspect compares match", live.Out);
        Assert.Matches(@"pass PrivateNetwork=", live.Out);
        var declared = d.Cli("security", "web", "--units", d.Units);
        Assert.Equal(Overall(declared.Out), Overall(live.Out));

        // The file now asks for a user namespace and no capability at all; the process still has neither change.
        d.WriteUnit("web", Before.Replace("[\"CAP_NET_BIND_SERVICE\"]", "[]", StringComparison.Ordinal) + "PrivateUsers = true\n");
        var drifted = d.Cli("security", "web");
        Assert.Contains("FAIL PrivateUsers=", drifted.Out);
        Assert.Contains("FAIL CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)", drifted.Out);
        Assert.Matches(@"FAIL live isolation \(inspect\)\s+-\s+process \d+: \d+ of \d+ properties differ from the declaration: .*namespace user", drifted.Out);
        var newDeclaration = d.Cli("security", "web", "--units", d.Units);
        Assert.Contains("pass PrivateUsers=", newDeclaration.Out);
        Assert.True(Overall(drifted.Out) > Overall(newDeclaration.Out), $"live {Overall(drifted.Out)}, declared {Overall(newDeclaration.Out)}");
        Assert.Equal(1, d.Cli("security", "web", "--threshold", (Overall(newDeclaration.Out) / 10.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)).Code);
    }

    /// <summary>The overall score in tenths from systemd's summary line.</summary>
    private static int Overall(string output)
    {
        var m = System.Text.RegularExpressions.Regex.Match(output, @"Overall exposure level for \S+: (\d+)\.(\d)");
        Assert.True(m.Success, output);
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 10 + int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
