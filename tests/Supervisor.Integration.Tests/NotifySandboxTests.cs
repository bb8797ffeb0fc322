namespace Supervisor.Integration.Tests;

/// <summary>
/// Type=notify inside a sandbox, with the daemon's runtime directory under /tmp (the fixture's):
/// found with the real redis, whose PrivateTmp hid the socket ("sd_notify: -2") until the start
/// timed out 90 s later without a word on why.
/// </summary>
public class NotifySandboxTests
{
    private static void RequireSystemdNotify()
    {
        if (!File.Exists("/usr/bin/systemd-notify") && !File.Exists("/bin/systemd-notify")) Assert.Skip("systemd-notify is not installed");
    }

    [Fact]
    public async Task A_notify_unit_with_PrivateTmp_and_a_non_root_User_reaches_active_with_the_runtime_directory_under_tmp()
    {
        Daemon.RequireRoot();
        RequireSystemdNotify();
        await using var d = new Daemon();
        Assert.StartsWith("/tmp/", d.Runtime, StringComparison.Ordinal);
        d.WriteUnit("n", """
            [Service]
            Type = "notify"
            User = "nobody"
            # systemd-notify is a child of the main process, and as nobody it cannot send in its
            # parent's name: as with systemd, the unit must let all its processes speak.
            NotifyAccess = "all"
            ExecStart = ["/bin/sh", "-c", "systemd-notify --ready --status=up || echo notify-failed; exec sleep 1000"]

            [Sandbox]
            PrivateTmp = true
            ProtectSystem = "strict"
            PrivateUsers = true
            """);
        d.Start();
        d.WaitForState("n", "active", "running");
        d.WaitFor(() => d.Cli("logs", "n", "--state-dir", d.State).Out.Contains("status: up"), "the status line in n's log");
        Assert.DoesNotContain("notify-failed", d.Cli("logs", "n", "--state-dir", d.State).Out);
        // status names the namespaces the Private* keys give, as it does those of Namespaces.
        Assert.Contains("user", d.Status("n").GetProperty("Namespaces").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_notify_unit_that_never_says_READY_fails_with_a_timeout_message_naming_the_socket()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("quiet", """
            [Service]
            Type = "notify"
            TimeoutStartSec = "1s"
            ExecStart = ["/bin/sleep", "1000"]

            [Sandbox]
            PrivateTmp = true
            """);
        d.Start();
        var socket = Path.Combine(d.Runtime, "notify", "quiet");
        d.WaitFor(() => d.Log.Contains("no READY=1 arrived", StringComparison.Ordinal), "the start timeout of quiet");
        var line = d.Log.Split('\n').First(l => l.Contains("no READY=1 arrived", StringComparison.Ordinal));
        Assert.Contains("start did not complete within TimeoutStartSec=1s: no READY=1 arrived on the notify socket", line);
        Assert.Contains($"'{socket}' (the service's $NOTIFY_SOCKET; nothing arrived on it", line);
        d.WaitForState("quiet", "failed");
    }
}
