namespace Supervisor.Integration.Tests;

/// <summary>Start conditions, ExecCondition, OnFailure/OnSuccess and Type=dbus against the real daemon.</summary>
public class ConditionDaemonTests
{
    [Fact]
    public async Task A_failed_condition_skips_the_start_an_assert_fails_it_and_ExecCondition_decides_by_its_exit()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var marker = Path.Combine(d.Root, "marker");
        d.WriteUnit("skip", $"[Unit]\nConditionPathExists = [\"{d.Root}/nothing\"]\n[Service]\nType = \"oneshot\"\nExecStart = [\"/bin/touch\", \"{marker}\"]\n");
        d.WriteUnit("asserted", $"[Unit]\nAssertPathExists = [\"{d.Root}/nothing\"]\n[Service]\nExecStart = [\"/bin/touch\", \"{marker}\"]\n");
        d.WriteUnit("ec1", $"[Service]\nExecCondition = [[\"/bin/sh\", \"-c\", \"exit 1\"]]\nExecStart = [\"/bin/touch\", \"{marker}\"]\n");
        d.WriteUnit("ec255", $"[Service]\nExecCondition = [[\"/bin/sh\", \"-c\", \"exit 255\"]]\nExecStart = [\"/bin/touch\", \"{marker}\"]\n");
        d.WriteUnit("ec0", "[Unit]\nConditionPathExists = [\"!/nonexistent\"]\n[Service]\nExecCondition = [[\"/bin/true\"]]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("ec0", "active", "running");
        d.WaitFor(() => d.Prop("skip", "ConditionResult") == "false", "skip's condition to be checked");
        d.WaitFor(() => d.Prop("asserted", "AssertResult") == "false", "asserted's assert to be checked");
        d.WaitFor(() => d.Prop("ec1", "Result") == "exec-condition", "ec1's ExecCondition to say skip");
        d.WaitForState("ec255", "failed");

        var start = d.Cli("start", "skip");
        Assert.Equal(0, start.Code);
        var status = d.Cli("status", "skip");
        Assert.Contains($"Condition: start condition failed at", status.Out);
        Assert.Contains($"ConditionPathExists={d.Root}/nothing was not met", status.Out);
        Assert.Contains("inactive (dead)", status.Out);

        var asserted = d.Cli("start", "asserted");
        Assert.Equal(1, asserted.Code);
        Assert.Contains($"Assertion failed on job for 'asserted': AssertPathExists={d.Root}/nothing was not met", asserted.Err);
        Assert.Equal("inactive", d.Prop("asserted", "ActiveState"));

        Assert.Equal(0, d.Cli("start", "ec1").Code);
        Assert.Equal("inactive", d.Prop("ec1", "ActiveState"));
        Assert.Equal(1, d.Cli("start", "ec255").Code);
        Assert.Contains("ExecCondition[0] '/bin/sh' failed (status=255)", d.Cli("status", "ec255").Out + d.Log);
        // Not one ExecStart ran.
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task OnFailure_starts_its_unit_when_a_service_fails_and_OnSuccess_after_a_oneshot_succeeded()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var rescued = Path.Combine(d.Root, "rescued");
        var next = Path.Combine(d.Root, "next");
        d.WriteUnit("fails", "[Unit]\nOnFailure = [\"rescue\"]\n[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"exit 3\"]\n");
        d.WriteUnit("rescue", $"[Unit]\nConditionPathExists = [\"{d.Root}/go\"]\n[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = [\"/bin/touch\", \"{rescued}\"]\n");
        d.WriteUnit("job", $"[Unit]\nOnSuccess = [\"next\"]\nConditionPathExists = [\"{d.Root}/go\"]\n[Service]\nType = \"oneshot\"\nExecStart = [\"/bin/true\"]\n");
        d.WriteUnit("next", $"[Unit]\nConditionPathExists = [\"{d.Root}/go\"]\n[Service]\nType = \"oneshot\"\nRemainAfterExit = true\nExecStart = [\"/bin/touch\", \"{next}\"]\n");
        d.Start();
        d.WaitForState("fails", "failed");
        // Until now every condition on /go failed: nothing ran. Now let them hold.
        Assert.False(File.Exists(rescued) || File.Exists(next));
        File.WriteAllText(Path.Combine(d.Root, "go"), "");
        Assert.Equal(0, d.Cli("reset-failed", "fails").Code);
        d.Cli("start", "fails"); // a simple service: the start succeeds, then it exits 3 and fails
        d.WaitForState("rescue", "active", "exited");
        Assert.True(File.Exists(rescued));
        Assert.False(File.Exists(next));
        // (The start job of a oneshot that ends dead is answered as a failure here, unlike systemd: left as it is, see the report.)
        d.Cli("start", "job");
        d.WaitForState("next", "active", "exited");
        Assert.True(File.Exists(next));
    }

    private static bool HasGi(string python)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(python, ["-c", "from gi.repository import Gio"]) { RedirectStandardError = true })!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    [Fact]
    public async Task Type_dbus_is_active_once_its_name_is_on_the_system_bus_and_fails_clearly_without_a_bus()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/dbus-daemon")) Assert.Skip("dbus-daemon is not installed (Debian package dbus)");
        const string python = "/usr/bin/python3";
        if (!File.Exists(python) || !HasGi(python))
            Assert.Skip("python3 with gi (python3-gi) is needed to claim a name on the bus");
        await using var d = new Daemon();
        var busDir = Path.Combine(d.Root, "bus");
        Directory.CreateDirectory(busDir);
        var socket = Path.Combine(busDir, "system_bus_socket");
        var policy = Path.Combine(Support.RepoRoot(), "contrib", "dbus", "io.supervisor.Supervisor1.conf");
        File.WriteAllText(Path.Combine(busDir, "bus.conf"), $"""
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <listen>unix:path={socket}</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <allow own="org.example.CondTest"/>
                <allow send_destination="*" eavesdrop="false"/>
                <allow receive_sender="*"/>
              </policy>
              <include>{policy}</include>
            </busconfig>
            """);
        using var bus = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dbus-daemon",
            ["--config-file=" + Path.Combine(busDir, "bus.conf"), "--nofork", "--print-address=1"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            var address = (await bus.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken))!;
            const string claim = "import os\nfrom gi.repository import Gio, GLib\n" +
                "c = Gio.DBusConnection.new_for_address_sync(os.environ['BUS'], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n" +
                "c.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', GLib.Variant('(su)', ('org.example.CondTest', 4)), None, 0, -1, None)\n" +
                "GLib.MainLoop().run()\n";
            File.WriteAllText(Path.Combine(d.Root, "claim.py"), claim);
            d.WriteUnit("named", $"[Service]\nType = \"dbus\"\nBusName = \"org.example.CondTest\"\nEnvironment = {{ BUS = \"{address}\" }}\nExecStart = [\"{python}\", \"{d.Root}/claim.py\"]\nTimeoutStartSec = \"60s\"\n");
            d.WriteUnit("unclaimed", $"[Service]\nType = \"dbus\"\nBusName = \"org.example.Nobody\"\nExecStart = [\"/bin/sleep\", \"1000\"]\nTimeoutStartSec = \"3s\"\n");
            d.Start("--system-bus", address);
            d.WaitForState("named", "active", "running");
            Assert.Contains("org.example.CondTest appeared on the system bus", d.Log);
            // Nobody claims the name: the start timeout applies.
            d.WaitForState("unclaimed", "failed");
        }
        finally
        {
            bus.Kill();
        }

        // No bus at all: the start fails and says why.
        await using var nobus = new Daemon();
        nobus.WriteUnit("named", "[Service]\nType = \"dbus\"\nBusName = \"org.example.CondTest\"\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        nobus.Start("--system-bus", $"unix:path={nobus.Root}/no-such-socket");
        nobus.WaitForState("named", "failed");
        Assert.Contains("Type=dbus: the system bus at", nobus.Log);
    }
}
