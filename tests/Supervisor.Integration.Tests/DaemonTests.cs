using System.Net.Http;

namespace Supervisor.Integration.Tests;

/// <summary>`supervisor run` for real, as root: units start in their cgroups and namespaces, crash and restart, stop and start on request, change live, and leave nothing behind.</summary>
public class DaemonTests
{
    private static string Sleeper(string extra = "", string resources = "") => $$"""
        [Service]
        ExecStart = ["/bin/sleep", "1000"]
        {{extra}}
        [Resources]
        {{resources}}
        """;

    [Fact]
    public async Task A_sandboxed_web_server_starts_in_its_cgroup_and_namespaces_and_answers()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        int port = Daemon.FreePort();
        d.WriteUnit("web", $$"""
            [Service]
            ExecStart = ["/usr/bin/python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1", "--directory", "/usr/share/doc"]
            User = "nobody"
            [Resources]
            MemoryMax = "128M"
            TasksMax = 32
            [Sandbox]
            Namespaces = ["pid", "mount", "ipc", "uts"]
            Hostname = "site"
            CapabilityBoundingSet = []
            NoNewPrivileges = true
            SystemCallFilter = ["@system-service"]
            ProtectSystem = "strict"
            """);
        d.Start();
        d.WaitForState("web", "active", "running");
        int pid = d.MainPid("web");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string? body = null;
        d.WaitFor(() => { try { body = http.GetStringAsync($"http://127.0.0.1:{port}/").Result; return true; } catch (AggregateException) { return false; } }, "the web server to answer");
        Assert.Contains("Directory listing", body);

        // From outside, the way a person checks: cgroup, namespaces, limits.
        Assert.Contains($"/{d.CgroupRoot}/web.service", File.ReadAllText($"/proc/{pid}/cgroup"));
        // Compared with this test's own namespaces (the host's): PID 1 may be out of our reach in a container.
        static string Ns(string pid, string ns) => new FileInfo($"/proc/{pid}/ns/{ns}").LinkTarget ?? throw new InvalidOperationException($"cannot read /proc/{pid}/ns/{ns}");
        foreach (var ns in new[] { "pid", "mnt", "ipc", "uts" })
            Assert.NotEqual(Ns("self", ns), Ns(pid.ToString(), ns));
        Assert.Equal(Ns("self", "net"), Ns(pid.ToString(), "net"));
        var status = File.ReadAllText($"/proc/{pid}/status");
        Assert.Contains("NoNewPrivs:\t1", status);
        Assert.Contains("Seccomp:\t2", status);
        Assert.Contains("CapEff:\t0000000000000000", status);
        var memoryMax = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "memory.max" : "memory.limit_in_bytes";
        Assert.Equal((128L << 20).ToString(), File.ReadAllText(Path.Combine(d.CgroupDir("web"), memoryMax)).Trim());

        var (code, exited) = d.Terminate();
        Assert.True(exited, d.Log);
        Assert.True(code == 0, $"exit code {code}:\n{d.Log}");
        Assert.False(Directory.Exists($"/proc/{pid}"), "the service outlived the daemon's SIGTERM");
        Assert.False(Directory.Exists(d.CgroupDir("web")), "the unit's cgroup was left behind");
    }

    [Fact]
    public async Task A_crashing_service_is_restarted_and_its_restarts_counted()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("flaky", Sleeper("Restart = \"on-failure\"\nRestartSec = \"100ms\""));
        d.Start();
        d.WaitForState("flaky", "active", "running");
        int first = d.MainPid("flaky");
        System.Diagnostics.Process.Start("kill", ["-KILL", first.ToString()])!.WaitForExit();
        d.WaitFor(() => d.Prop("flaky", "NRestarts") == "1" && d.Prop("flaky", "SubState") == "running", "flaky to be restarted");
        Assert.NotEqual(first, d.MainPid("flaky"));
        Assert.False(Directory.Exists($"/proc/{first}"));
    }

    [Fact]
    public async Task Stop_and_start_from_the_cli_and_a_non_root_caller_is_refused()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", Sleeper());
        d.Start();
        d.WaitForState("svc", "active", "running");
        int pid = d.MainPid("svc");

        var refused = d.CliAs(65534, "stop", "svc");
        Assert.Equal(1, refused.Code);
        Assert.Contains("needs uid 0", refused.Err);
        Assert.True(Directory.Exists($"/proc/{pid}"));
        var read = d.CliAs(65534, "status", "svc", "--json");
        Assert.Equal(0, read.Code);

        var stop = d.Cli("stop", "svc");
        Assert.Equal(0, stop.Code);
        Assert.Equal("inactive", d.Prop("svc", "ActiveState"));
        Assert.False(Directory.Exists($"/proc/{pid}"));
        Assert.Equal(3, d.Cli("status", "svc").Code);

        Assert.Equal(0, d.Cli("start", "svc").Code);
        Assert.Equal("active", d.Prop("svc", "ActiveState"));
        Assert.Equal(0, d.Cli("status", "svc").Code);
    }

    [Fact]
    public async Task Plan_previews_and_daemon_reload_applies_MemoryMax_live_and_restarts_for_ExecStart()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"64M\""));
        // --no-watch: changes wait for daemon-reload, so plan can be read first (terraform-style).
        d.Start("--no-watch");
        d.WaitForState("svc", "active", "running");
        int pid = d.MainPid("svc");
        var file = Path.Combine(d.CgroupDir("svc"), File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "memory.max" : "memory.limit_in_bytes");

        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"96M\""));
        var plan = d.Cli("plan");
        Assert.Contains("svc: ApplyLive", plan.Out);
        Assert.Contains("Resources.MemoryMax: \"64M\" → \"96M\"", plan.Out);
        Assert.Equal((64L << 20).ToString(), File.ReadAllText(file).Trim());

        Assert.Equal(0, d.Cli("daemon-reload").Code);
        Assert.Equal((96L << 20).ToString(), File.ReadAllText(file).Trim());
        Assert.Equal(pid, d.MainPid("svc"));

        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"96M\"").Replace("\"1000\"", "\"2000\""));
        Assert.Contains("svc: Restart — ExecStart changed", d.Cli("plan").Out);
        Assert.Equal(0, d.Cli("daemon-reload").Code);
        d.WaitFor(() => d.Prop("svc", "SubState") == "running" && d.MainPid("svc") != pid, "svc to restart with the new ExecStart");
        Assert.Contains("sleep\u00002000", File.ReadAllText($"/proc/{d.MainPid("svc")}/cmdline"));
        Assert.Contains("No changes", d.Cli("plan").Out);
    }

    [Fact]
    public async Task Editing_a_unit_file_is_applied_without_a_request()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"64M\""));
        d.Start();
        d.WaitForState("svc", "active", "running");
        int pid = d.MainPid("svc");
        var file = Path.Combine(d.CgroupDir("svc"), File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "memory.max" : "memory.limit_in_bytes");
        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"96M\""));
        d.WaitFor(() => File.ReadAllText(file).Trim() == (96L << 20).ToString(), "memory limit to change live");
        Assert.Equal(pid, d.MainPid("svc"));
    }

    [Fact]
    public async Task A_limit_changed_by_hand_is_put_back_as_soon_as_it_is_written()
    {
        // No reload, no timer (--no-watch): the write itself is the trigger.
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", Sleeper(resources: "MemoryMax = \"64M\"\nTasksMax = 20"));
        d.Start("--no-watch");
        d.WaitForState("svc", "active", "running");
        var pidsMax = Path.Combine(d.CgroupDir("svc").Replace("/memory/", "/pids/"), "pids.max");
        var memory = Path.Combine(d.CgroupDir("svc"), File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "memory.max" : "memory.limit_in_bytes");
        File.WriteAllText(pidsMax, "99");
        d.WaitFor(() => File.ReadAllText(pidsMax).Trim() == "20", "pids.max to be restored");
        File.WriteAllText(memory, (128L << 20).ToString());
        d.WaitFor(() => File.ReadAllText(memory).Trim() == (64L << 20).ToString(), "the memory limit to be restored");
        d.WaitFor(() => d.Cli("logs", "svc", "--state-dir", d.State).Out.Contains("drift repaired: TasksMax"), "the log of svc to name the repaired key");
    }

    [Fact]
    public async Task A_limit_changed_by_hand_is_put_back_on_reload()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", Sleeper(resources: "TasksMax = 20"));
        d.Start();
        d.WaitForState("svc", "active", "running");
        var pidsMax = Path.Combine(d.CgroupDir("svc").Replace("/memory/", "/pids/"), "pids.max");
        File.WriteAllText(pidsMax, "99");
        // SIGHUP reconciles at once (the timer would too, later).
        d.Signal("HUP");
        d.WaitFor(() => File.ReadAllText(pidsMax).Trim() == "20", "pids.max to be restored");
        d.WaitFor(() => d.Cli("logs", "svc", "--state-dir", d.State).Out.Contains("drift repaired"), "the log of svc to say drift repaired");
    }

    [Fact]
    public async Task Removing_a_unit_file_stops_it_and_an_invalid_one_leaves_the_others_running()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("a", Sleeper());
        d.WriteUnit("b", Sleeper());
        d.WriteUnit("bad", "[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"sometimes\"\n");
        d.Start();
        d.WaitForState("a", "active", "running");
        d.WaitForState("b", "active", "running");
        Assert.Equal("bad-setting", d.Prop("bad", "LoadState"));
        int b = d.MainPid("b");

        File.Delete(Path.Combine(d.Units, "b.toml"));
        d.WaitFor(() => !d.Cli("list-units").Out.Contains("\n● b "), "b to be removed");
        Assert.False(Directory.Exists($"/proc/{b}"));
        Assert.Equal("active", d.Prop("a", "ActiveState"));

        // A broken file added while the daemon runs can be asked about (it was "Unknown object").
        d.WriteUnit("late", "[Service]\nExecStart = \"/bin/sh\"\n");
        d.WaitFor(() => d.Cli("list-units").Out.Contains("● late "), "late to be listed");
        Assert.Equal("bad-setting", d.Prop("late", "LoadState"));
    }

    [Fact]
    public async Task A_notify_service_is_active_only_after_the_real_systemd_notify_says_ready()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/systemd-notify") && !File.Exists("/bin/systemd-notify")) Assert.Skip("systemd-notify is not installed");
        await using var d = new Daemon();
        var flag = Path.Combine(d.Root, "go");
        d.WriteUnit("n", $$"""
            [Service]
            Type = "notify"
            ExecStart = ["/bin/sh", "-c", "echo socket=${NOTIFY_SOCKET:-none}; while [ ! -e {{flag}} ]; do sleep 0.1; done; systemd-notify --ready --status='warmed up'; exec sleep 1000"]
            """);
        // As in systemd, only services that may notify get a socket.
        d.WriteUnit("plain", "[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"echo socket=${NOTIFY_SOCKET:-none}; exec sleep 1000\"]\n");
        d.Start();
        d.WaitForState("n", "activating", "start");
        File.WriteAllText(flag, "");
        d.WaitForState("n", "active", "running");
        // The supervisor's own lines reach the log file through its writer: wait for the one we look for.
        d.WaitFor(() => d.Cli("logs", "n", "--state-dir", d.State).Out.Contains("status: warmed up"), "the status line in n's log");
        var log = d.Cli("logs", "n", "--state-dir", d.State).Out;
        Assert.Contains("status: warmed up", log);
        Assert.Contains($"socket={Path.Combine(d.Runtime, "notify", "n")}", log);
        d.WaitForState("plain", "active", "running");
        d.WaitFor(() => d.Cli("logs", "plain", "--state-dir", d.State).Out.Contains("socket="), "plain's first line");
        d.WaitFor(() => d.Cli("logs", "plain", "--state-dir", d.State).Out.Contains("socket=none"), "the log of plain to say socket=none");
        Assert.False(File.Exists(Path.Combine(d.Runtime, "notify", "plain")));
    }
}

public class HostResourceTests
{
    [Fact]
    public async Task A_key_the_host_cannot_honour_is_shown_and_a_value_it_would_refuse_keeps_the_unit_from_starting()
    {
        Daemon.RequireRoot();
        bool v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        await using var d = new Daemon();
        // MemoryHigh exists only on v2; on v2, MemoryLow is the key that is exact, so use the v1-only approximation check there.
        d.WriteUnit("soft", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Resources]\nMemoryHigh = \"64M\"\nMemoryMax = \"128M\"\n");
        d.WriteUnit("nocpu", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Resources]\nAllowedCPUs = \"4000\"\n");
        d.Start();
        d.WaitForState("soft", "active", "running");
        var status = d.Cli("status", "soft");
        if (!v2) Assert.Contains("MemoryHigh cannot be honoured on this host", status.Out);
        Assert.Contains("cgroups: cgroup v", d.Cli("status").Out);

        var nocpu = d.Status("nocpu");
        Assert.Equal("bad-setting", nocpu.GetProperty("LoadState").GetString());
        Assert.Contains("AllowedCPUs", d.Cli("status", "nocpu").Out);
        Assert.Equal(1, d.Cli("start", "nocpu").Code);
    }
}

/// <summary>The control API on a bus (a private dbus-daemon configured with contrib/dbus's policy, standing in for the system bus).</summary>
public class SystemBusTests
{
    [Fact]
    public async Task The_api_is_served_on_the_bus_under_its_name_and_the_cli_and_busctl_use_it()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/dbus-daemon")) Assert.Skip("dbus-daemon is not installed (Debian package dbus)");
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
              <!-- Debian's /usr/share/dbus-1/system.conf default policy, so our policy file is tested as a system bus applies it. -->
              <policy context="default">
                <allow user="*"/>
                <deny own="*"/>
                <deny send_type="method_call"/>
                <allow send_type="signal"/>
                <allow send_requested_reply="true" send_type="method_return"/>
                <allow send_requested_reply="true" send_type="error"/>
                <allow receive_type="method_call"/>
                <allow receive_type="method_return"/>
                <allow receive_type="error"/>
                <allow receive_type="signal"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
              </policy>
              <include>{policy}</include>
            </busconfig>
            """);
        using var bus = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dbus-daemon",
            ["--config-file=" + Path.Combine(busDir, "bus.conf"), "--nofork", "--print-address=1"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            var address = (await bus.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken))!;
            d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
            d.Start("--system-bus", address);
            d.WaitFor(() => d.Log.Contains("control API on the system bus"), "the daemon to own its name on the bus");
            d.WaitForState("svc", "active", "running");

            using (var busctl = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("busctl",
                [$"--address={address}", "get-property", "io.supervisor.Supervisor1", "/io/supervisor/Supervisor1/unit/svc", "io.supervisor.Unit1", "ActiveState"])
                { RedirectStandardOutput = true, RedirectStandardError = true })!)
            {
                var err = busctl.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
                var got = (await busctl.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken)).Trim();
                Assert.True(got == "s \"active\"", $"busctl: '{got}' {await err}\n{d.Log}");
            }

            var viaBus = d.Cli("status", "--bus", address, "--json");
            Assert.Equal(0, viaBus.Code);
            Assert.Contains("\"svc\"", viaBus.Out);
            // On the bus, the caller's uid comes from the bus daemon (GetConnectionCredentials): nobody is refused.
            var refused = d.CliAs(65534, "stop", "svc", "--bus", address);
            Assert.Equal(1, refused.Code);
            Assert.Contains("needs uid 0", refused.Err);
            Assert.Equal(0, d.Cli("stop", "svc", "--bus", address).Code);
            Assert.Equal("inactive", d.Prop("svc", "ActiveState"));
        }
        finally
        {
            bus.Kill();
            await bus.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }
}

internal static class Support
{
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Supervisor.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}

/// <summary>The API as real D-Bus tools see it on the private socket.</summary>
public class PrivateSocketToolTests
{
    private static string Run(string program, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {p.ExitCode}: {output}");
        return output;
    }

    [Fact]
    public async Task Busctl_gdbus_and_dbus_send_introspect_and_call_the_api()
    {
        Daemon.RequireRoot();
        foreach (var tool in new[] { "busctl", "gdbus", "dbus-send" })
            if (!File.Exists($"/usr/bin/{tool}")) Assert.Skip($"{tool} is not installed");
        await using var d = new Daemon();
        d.WriteUnit("web.v2", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("web.v2", "active", "running");
        var address = $"unix:path={Path.Combine(d.Runtime, "private")}";

        var manager = Run("busctl", $"--address={address}", "introspect", "io.supervisor.Supervisor1", "/io/supervisor/Supervisor1");
        foreach (var member in new[] { ".ListUnits", ".GetUnit", ".StartUnit", ".StopUnit", ".RestartUnit", ".ReloadUnit", ".ResetFailedUnit", ".Reload", ".UnitStateChanged" })
            Assert.Contains(member, manager);

        // systemd's escaping of the unit name in the object path: "." is _2e.
        var unitPath = "/io/supervisor/Supervisor1/unit/web_2ev2";
        Assert.Contains(unitPath, Run("busctl", $"--address={address}", "call", "io.supervisor.Supervisor1", "/io/supervisor/Supervisor1", "io.supervisor.Manager1", "GetUnit", "s", "web.v2"));
        var unit = Run("gdbus", "introspect", "--address", address, "--dest", "io.supervisor.Supervisor1", "--object-path", unitPath);
        Assert.Contains("readonly s ActiveState = 'active';", unit);
        Assert.Contains("readonly u NRestarts = 0;", unit);

        var list = Run("dbus-send", $"--peer={address}", "--print-reply", "--dest=io.supervisor.Supervisor1", "/io/supervisor/Supervisor1", "io.supervisor.Manager1.ListUnits");
        Assert.Contains("string \"web.v2\"", list);
        Assert.Contains("string \"running\"", list);
    }
}

public class RestartOfTheSupervisorTests
{
    [Fact]
    public async Task After_kill_9_a_new_supervisor_adopts_the_running_services_without_restarting_them()
    {
        Daemon.RequireRoot();
        await using var first = new Daemon();
        first.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\nRestart = \"on-failure\"\nRestartSec = \"100ms\"\n");
        first.Start();
        first.WaitForState("svc", "active", "running");
        // One automatic restart first, so there is a counter to survive.
        System.Diagnostics.Process.Start("kill", ["-KILL", first.MainPid("svc").ToString()])!.WaitForExit();
        first.WaitFor(() => first.Prop("svc", "NRestarts") == "1" && first.Prop("svc", "SubState") == "running", "the first restart");
        int pid = first.MainPid("svc");
        // The state file follows state changes; give it the moment its coalescing takes.
        first.KillOnceRemembered(pid);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the service should outlive a SIGKILLed supervisor");

        // The same directories and cgroup subtree, a new supervisor: the service is adopted, not restarted.
        first.Start();
        first.WaitForState("svc", "active", "running");
        Assert.Equal(pid, first.MainPid("svc"));
        Assert.Equal("1", first.Prop("svc", "NRestarts"));
        Assert.Equal([pid.ToString()], File.ReadAllLines(Path.Combine(first.CgroupDir("svc"), "cgroup.procs")));
        first.WaitFor(() => first.Cli("logs", "svc", "--state-dir", first.State).Out.Contains("adopted main process"), "the log of svc to say adopted main process");

        // The adopted process dying is seen (through its pidfd) and the unit restarts by its policy.
        System.Diagnostics.Process.Start("kill", ["-KILL", pid.ToString()])!.WaitForExit();
        first.WaitFor(() => first.Prop("svc", "NRestarts") == "2" && first.Prop("svc", "SubState") == "running", "the adopted unit to restart after its process died");
        Assert.NotEqual(pid, first.MainPid("svc"));
    }

    [Fact]
    public async Task Stopping_an_adopted_service_ends_it_inactive_not_failed()
    {
        // An adopted main process is not our child: its exit status cannot be known. A stop that was
        // asked for must still end the unit inactive (dead), not failed (exit-code 255), which fired
        // the failed-unit alert for every adopted unit at each shutdown.
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("svc", "active", "running");
        int pid = d.MainPid("svc");
        d.KillOnceRemembered(pid);

        d.Start();
        d.WaitForState("svc", "active", "running");
        Assert.Equal(pid, d.MainPid("svc"));
        Assert.Equal(0, d.Cli("stop", "svc").Code);

        d.WaitForState("svc", "inactive", "dead");
        Assert.Equal("success", d.Prop("svc", "Result"));
        Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal), "the adopted process should be gone");
    }

    [Fact]
    public async Task A_start_that_fails_in_ExecStartPre_names_the_command_and_its_last_stderr_line()
    {
        // What nginx -t says is the reason a start failed; the answer to `start` must carry it.
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("web", """
            [Service]
            ExecStartPre = [["/bin/sh", "-c", "echo checking; echo 'first complaint' >&2; echo 'config: unknown directive \"x\" at line 3' >&2; exit 1"]]
            ExecStart = ["/bin/sleep", "1000"]
            """);
        d.Start();
        d.WaitForState("web", "failed");
        var (code, _, err) = d.Cli("start", "web");
        Assert.NotEqual(0, code);
        Assert.Contains("failed to start (result 'exit-code'): ExecStartPre[0] '/bin/sh' failed (status=1): config: unknown directive \"x\" at line 3", err);
    }

    [Fact]
    public async Task A_oneshot_left_active_exited_is_not_run_again_by_the_next_supervisor()
    {
        // RemainAfterExit: the unit is active with nothing running. A supervisor restarted after
        // kill -9 ran it a second time (one-time set-up such as a migration ran twice).
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var ran = Path.Combine(d.Root, "ran");
        d.WriteUnit("setup", $$"""
            [Service]
            Type = "oneshot"
            RemainAfterExit = true
            ExecStart = ["/bin/sh", "-c", "echo ran >> {{ran}}"]
            """);
        d.WriteUnit("marker", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("setup", "active", "exited");
        d.WaitForState("marker", "active", "running");
        var state = Path.Combine(d.State, "state.json");
        d.WaitFor(() => File.Exists(state) && File.ReadAllText(state).Contains("\"setup\"", StringComparison.Ordinal), "the state file to remember setup");
        d.KillOnceRemembered(d.MainPid("marker"));

        d.Start();
        d.WaitForState("marker", "active", "running");
        d.WaitForState("setup", "active", "exited");
        Assert.Equal(["ran"], File.ReadAllLines(ran));
        // Still a unit that can be stopped and started again by hand.
        Assert.Equal(0, d.Cli("restart", "setup").Code);
        d.WaitFor(() => File.ReadAllLines(ran).Length == 2, "a restart by hand to run it again");
    }

    [Fact]
    public async Task An_adopted_service_that_writes_output_keeps_running_and_what_it_wrote_meanwhile_reaches_the_log()
    {
        // Its stdout outlives the killed supervisor (the fd holder keeps the read end): no EPIPE,
        // no SIGPIPE, and the next supervisor reads on from where the first stopped.
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var last = Path.Combine(d.Root, "last");
        d.WriteUnit("talker", $$"""
            [Service]
            ExecStart = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo \"tick $i\"; echo $i > {{last}}; sleep 0.1; done"]
            Restart = "on-failure"
            """);
        d.Start();
        d.WaitForState("talker", "active", "running");
        int pid = d.MainPid("talker");
        d.WaitFor(() => d.Cli("logs", "talker", "--state-dir", d.State).Out.Contains("tick 3"), "a few lines in the log");
        d.KillOnceRemembered(pid);
        // The shell truncates the file before it writes the number: read until a number is there.
        int atKill = 0;
        d.WaitFor(() => int.TryParse(File.ReadAllText(last).Trim(), out atKill), "the last number written");
        // It goes on writing with no supervisor at all.
        d.WaitFor(() => int.TryParse(File.ReadAllText(last).Trim(), out var i) && i >= atKill + 5, "the service to write on while no supervisor runs");
        int written = 0;
        d.WaitFor(() => int.TryParse(File.ReadAllText(last).Trim(), out written), "the last number written");

        d.Start();
        d.WaitForState("talker", "active", "running");
        Assert.Equal(pid, d.MainPid("talker"));
        d.WaitFor(() => d.Cli("logs", "talker", "-n", "100000", "--state-dir", d.State).Out.Contains($"tick {written}\n"), $"line {written}, written while no supervisor ran, in the log");
        d.WaitFor(() => d.Cli("logs", "talker", "-n", "100000", "--state-dir", d.State).Out.Contains("its output is captured again"), "the adoption line");
        Assert.Equal(pid, d.MainPid("talker"));
        Assert.Equal("0", d.Prop("talker", "NRestarts"));
    }

    [Fact]
    public async Task A_process_that_is_not_the_remembered_one_is_not_adopted_and_never_runs_beside_a_new_copy()
    {
        Daemon.RequireRoot();
        await using var first = new Daemon();
        first.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        first.Start();
        first.WaitForState("svc", "active", "running");
        int old = first.MainPid("svc");
        first.Signal("KILL");
        first.WaitForExit();
        // A damaged state file: nothing can be recognised, so the leftovers are stopped and the unit starts clean.
        File.WriteAllText(Path.Combine(first.State, "state.json"), "{ not json");

        first.Start();
        first.WaitForState("svc", "active", "running");
        int now = first.MainPid("svc");
        Assert.NotEqual(old, now);
        Assert.Equal([now.ToString()], File.ReadAllLines(Path.Combine(first.CgroupDir("svc"), "cgroup.procs")));
        first.WaitFor(() => first.Cli("logs", "svc", "--state-dir", first.State).Out.Contains("of a previous run in its cgroup"), "the log of svc to say of a previous run in its cgroup");
    }
}

public class ForkingTests
{
    [Fact]
    public async Task A_forking_daemon_is_tracked_by_its_PIDFile_and_its_death_is_seen_after_the_double_fork()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var pidFile = Path.Combine(d.Root, "daemon.pid");
        // The classic daemon: the parent starts a background child, writes its pid, and exits 0.
        d.WriteUnit("forker", $$"""
            [Service]
            Type = "forking"
            PIDFile = "{{pidFile}}"
            ExecStart = ["/bin/sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {{pidFile}}; exit 0"]
            Restart = "on-failure"
            RestartSec = "100ms"
            """);
        d.Start();
        d.WaitForState("forker", "active", "running");
        int daemonPid = int.Parse(File.ReadAllText(pidFile).Trim());
        Assert.Equal(daemonPid, d.MainPid("forker"));
        // Its parent exited; as a child subreaper the supervisor is now the daemon's parent.
        var stat = File.ReadAllText($"/proc/{daemonPid}/stat");
        int ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        Assert.Contains("supervisor.dll", File.ReadAllText($"/proc/{ppid}/cmdline"));

        // Killed from outside: the exit is seen, and Restart=on-failure starts a new daemon.
        System.Diagnostics.Process.Start("kill", ["-KILL", daemonPid.ToString()])!.WaitForExit();
        d.WaitFor(() => d.Prop("forker", "NRestarts") == "1" && d.Prop("forker", "SubState") == "running", "the forking unit to be restarted");
        Assert.NotEqual(daemonPid, d.MainPid("forker"));
    }

    /// <summary>
    /// Issue #15's reproduction: in its own pid namespace the PIDFile holds the daemon's pid there
    /// (3), the namespace's init must outlive the forking parent, and the daemon's exit reaches the
    /// supervisor although the daemon is the init's child, not the supervisor's.
    /// </summary>
    [Fact]
    public async Task A_forking_daemon_in_its_own_pid_namespace_keeps_running_under_its_host_pid_and_stops_and_dies_visibly()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var pidFile = Path.Combine(d.Root, "forkns.pid");
        d.WriteUnit("forkns", $$"""
            [Service]
            Type = "forking"
            PIDFile = "{{pidFile}}"
            ExecStart = ["/bin/sh", "-c", "/bin/sleep 1000 & echo $! > {{pidFile}}"]
            Restart = "on-failure"
            RestartSec = "100ms"

            [Sandbox]
            Namespaces = ["pid"]
            """);
        d.Start();
        d.WaitForState("forkns", "active", "running");
        int main = d.MainPid("forkns");
        // The host's pid of the sleep, which the file names by its pid inside the namespace.
        Assert.Equal("sleep", File.ReadAllText($"/proc/{main}/comm").Trim());
        var nspid = File.ReadAllLines($"/proc/{main}/status").Single(l => l.StartsWith("NSpid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(File.ReadAllText(pidFile).Trim(), nspid[^1]);
        Assert.NotEqual(nspid[^1], main.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Killed from outside: seen through the init's report, and restarted.
        System.Diagnostics.Process.Start("kill", ["-KILL", main.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        d.WaitFor(() => d.Prop("forkns", "NRestarts") == "1" && d.Prop("forkns", "SubState") == "running", "the daemon's death to be seen and the unit restarted");
        int second = d.MainPid("forkns");
        Assert.NotEqual(main, second);
        Assert.Equal("sleep", File.ReadAllText($"/proc/{second}/comm").Trim());

        // A stop ends it cleanly: inactive, not failed, and nothing left.
        Assert.Equal(0, d.Cli("stop", "forkns").Code);
        d.WaitForState("forkns", "inactive", "dead");
        d.WaitFor(() => !Directory.Exists($"/proc/{second}"), "the daemon to be gone after the stop");
    }
}

public class StateDirectoryLockTests
{
    [Fact]
    public async Task A_second_supervisor_on_the_same_state_directory_is_refused_with_a_clear_message()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("svc", "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n");
        d.Start();
        d.WaitForState("svc", "active", "running");
        int pid = d.MainPid("svc");

        // Same state directory, its own runtime directory, cgroup root and metrics port.
        var psi = Daemon.SupervisorProcess(["run", "--units", d.Units, "--state-dir", d.State,
            "--runtime-dir", Path.Combine(d.Root, "run2"), "--cgroup-root", d.CgroupRoot + "-2", "--metrics-listen", "off", "--system-bus", "off"]);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var second = System.Diagnostics.Process.Start(psi)!;
        var output = await second.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await second.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await second.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"is using the state directory '{d.State}'", output);
        Assert.DoesNotContain("   at ", output);
        Assert.Equal(pid, d.MainPid("svc"));
    }
}
