using System.Diagnostics;
using Supervisor.Cli.Control;
using Supervisor.Cli.Tests.Support;
using Supervisor.DBus;

namespace Supervisor.Cli.Tests;

/// <summary>
/// The control API as a D-Bus client sees it, over a real socket, against a real UnitManager on a
/// fake host: methods, properties with systemd's names and types, who may change state, and the
/// line each request leaves in the unit's log.
/// </summary>
public class ControlApiTests
{
    private const string Properties = "org.freedesktop.DBus.Properties";

    private static async Task<object[]> Manager(DBusConnection c, string member, string signature = "", params object[] args) =>
        await c.CallAsync(ControlApi.BusName, ControlApi.ManagerPath, ControlApi.ManagerInterface, member, signature, args, TestContext.Current.CancellationToken);

    private static async Task<object> Get(DBusConnection c, string path, string iface, string property) =>
        ((Variant)(await c.CallAsync(ControlApi.BusName, path, Properties, "Get", "ss", [iface, property], TestContext.Current.CancellationToken))[0]).Value;

    private static async Task<ApiHarness> Started(Action<ApiHarness> units, bool withPaths = true, bool withUnitLog = true)
    {
        var h = new ApiHarness();
        units(h);
        await h.StartAsync(withPaths: withPaths, withUnitLog: withUnitLog);
        return h;
    }

    [Fact]
    public async Task ListUnits_gives_every_loaded_unit_with_its_states_and_object_path()
    {
        await using var h = await Started(h => { h.WriteUnit("web", ApiHarness.Sleeper()); h.WriteUnit("batch.slice", "[Unit]\nDescription = \"jobs\"\n"); });
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();

        var rows = ((object[])(await Manager(c, "ListUnits"))[0]).Cast<DBusStruct>().ToList();
        Assert.Equal(["batch.slice", "web"], rows.Select(r => (string)r[0]));
        var web = rows[1];
        Assert.Equal(("sleeps", "loaded", "active", "running"), ((string)web[1], (string)web[2], (string)web[3], (string)web[4]));
        Assert.Equal("/io/supervisor/Supervisor1/unit/web", web[6].ToString());
        Assert.Equal("/io/supervisor/Supervisor1/unit/batch_2eslice", rows[0][6].ToString());
    }

    [Fact]
    public async Task GetUnit_of_an_unknown_unit_is_NoSuchUnit_with_a_hint()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await using var c = await h.ConnectAsync();

        Assert.Equal("/io/supervisor/Supervisor1/unit/web", (await Manager(c, "GetUnit", "s", "web"))[0].ToString());
        // As systemctl users write it.
        Assert.Equal("/io/supervisor/Supervisor1/unit/web", (await Manager(c, "GetUnit", "s", "web.service"))[0].ToString());
        var e = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "GetUnit", "s", "wbe"));
        Assert.Equal(ControlApi.NoSuchUnitError, e.ErrorName);
        Assert.Contains("unit 'wbe' is not loaded", e.Message);
        Assert.Contains("'web'", e.Message);
    }

    [Fact]
    public async Task Unit_properties_have_systemds_names_and_DBus_types()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper(
            "[Resources]\nMemoryMax = \"128M\"\n[Sandbox]\nNamespaces = [\"pid\", \"mount\"]\nSystemCallFilter = [\"@system-service\"]")));
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();
        var path = ControlApi.UnitPath("web").ToString();

        Assert.Equal((uint)AutoHost.Pid, await Get(c, path, ControlApi.UnitInterface, "MainPID"));
        Assert.Equal(0u, await Get(c, path, ControlApi.UnitInterface, "NRestarts"));
        Assert.Equal(128UL << 20, await Get(c, path, ControlApi.UnitInterface, "MemoryMax"));
        Assert.Equal(ControlApi.Unset, await Get(c, path, ControlApi.UnitInterface, "TasksMax"));
        Assert.Equal(true, await Get(c, path, ControlApi.UnitInterface, "SeccompEnabled"));
        Assert.Equal(["mount", "pid"], ((object[])await Get(c, path, ControlApi.UnitInterface, "Namespaces")).Cast<string>().Order());
        Assert.Equal(Path.Combine(h.Units, "web.toml"), await Get(c, path, ControlApi.UnitInterface, "FragmentPath"));
        Assert.Equal("active", await Get(c, path, ControlApi.UnitInterface, "ActiveState"));
        var all = (KeyValuePair<object, object>[])(await c.CallAsync(ControlApi.BusName, path, Properties, "GetAll", "s", [ControlApi.UnitInterface], TestContext.Current.CancellationToken))[0];
        Assert.Contains(all, kv => (string)kv.Key == "CPUQuotaPerSecUSec");
    }

    [Fact]
    public async Task The_manager_names_its_units_state_and_log_directories_and_its_cgroup_subtree()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await using var c = await h.ConnectAsync();

        Assert.Equal(h.Units, await Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "UnitsDirectory"));
        Assert.Equal(h.State, await Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "StateDirectory"));
        Assert.Equal(h.Logs, await Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "LogDirectory"));
        Assert.Equal(ApiHarness.CgroupRoot, await Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "CgroupRoot"));
        Assert.Equal("test layout", await Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "CgroupLayout"));
    }

    [Fact]
    public async Task Without_paths_the_directory_properties_do_not_exist_as_on_an_older_daemon()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()), withPaths: false);
        await using var c = await h.ConnectAsync();

        var e = await Assert.ThrowsAsync<DBusErrorException>(() => Get(c, ControlApi.ManagerPath, ControlApi.ManagerInterface, "UnitsDirectory"));
        Assert.Equal(DBusErrors.UnknownProperty, e.ErrorName);
    }

    [Fact]
    public async Task Stop_and_start_change_the_state_and_the_units_log_says_who_asked()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();

        Assert.Equal(ControlApi.UnitPath("web").ToString(), (await Manager(c, "StopUnit", "ss", "web.service", "replace"))[0].ToString());
        Assert.Equal("inactive", await Get(c, ControlApi.UnitPath("web").ToString(), ControlApi.UnitInterface, "ActiveState"));
        await Manager(c, "StartUnit", "ss", "web", "replace");
        Assert.Equal("active", await Get(c, ControlApi.UnitPath("web").ToString(), ControlApi.UnitInterface, "ActiveState"));
        await Manager(c, "RestartUnit", "ss", "web", "replace");
        await Manager(c, "ResetFailedUnit", "s", "web");

        // SO_PEERCRED: this process is the caller.
        var who = $"by uid {Uid()} (pid {Environment.ProcessId}) over the control API";
        Assert.Equal([$"web: stop requested {who}", $"web: start requested {who}", $"web: restart requested {who}", $"web: reset-failed requested {who}"],
            h.UnitLogLines.ToArray());
    }

    [Fact]
    public async Task RefuseManualStop_and_RefuseManualStart_refuse_those_requests_over_the_API_and_leave_the_unit_as_it_was()
    {
        await using var h = await Started(h =>
        {
            h.WriteUnit("pinned", ApiHarness.Sleeper().Replace("[Unit]\n", "[Unit]\nRefuseManualStop = true\n", StringComparison.Ordinal));
            h.WriteUnit("helper", ApiHarness.Sleeper().Replace("[Unit]\n", "[Unit]\nRefuseManualStart = true\n", StringComparison.Ordinal));
        });
        await h.WaitForAsync("pinned", "active");
        await h.WaitForAsync("helper", "active");
        await using var c = await h.ConnectAsync();

        var stop = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "StopUnit", "ss", "pinned", "replace"));
        Assert.Equal(ControlApi.OnlyByDependencyError, stop.ErrorName);
        Assert.Equal("Operation refused, unit 'pinned' may be requested by dependency only (it is configured to refuse manual stop)", stop.Message);
        var restart = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "RestartUnit", "ss", "pinned", "replace"));
        Assert.Equal(ControlApi.OnlyByDependencyError, restart.ErrorName);
        Assert.Equal("active", await Get(c, ControlApi.UnitPath("pinned").ToString(), ControlApi.UnitInterface, "ActiveState"));

        // RefuseManualStart lets a manual stop through, and refuses the start that would bring it back.
        await Manager(c, "StopUnit", "ss", "helper", "replace");
        var start = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "StartUnit", "ss", "helper", "replace"));
        Assert.Equal(ControlApi.OnlyByDependencyError, start.ErrorName);
        Assert.Contains("refuse manual start", start.Message, StringComparison.Ordinal);
        Assert.Equal("inactive", await Get(c, ControlApi.UnitPath("helper").ToString(), ControlApi.UnitInterface, "ActiveState"));
    }

    [Fact]
    public async Task A_job_for_an_unknown_unit_is_NoSuchUnit_and_leaves_no_log_line()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await using var c = await h.ConnectAsync();

        var e = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "StartUnit", "ss", "nope", "replace"));
        Assert.Equal(ControlApi.NoSuchUnitError, e.ErrorName);
        Assert.Empty(h.UnitLogLines);
    }

    [Fact]
    public async Task Without_a_unit_log_callback_the_request_goes_to_the_daemons_log()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()), withUnitLog: false);
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();

        await Manager(c, "StopUnit", "ss", "web", "replace");
        Assert.Contains($"web: stop requested by uid {Uid()} (pid {Environment.ProcessId}) over the control API", h.DaemonLog);
    }

    [Fact]
    public async Task Plan_says_what_a_reconcile_would_do_and_Reload_does_it()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();
        h.WriteUnit("db", ApiHarness.Sleeper());

        var plan = ((object[])(await Manager(c, "Plan"))[0]).Cast<DBusStruct>().ToList();
        Assert.Equal([("db", "Start")], plan.Select(r => ((string)r[0], (string)r[1])));
        Assert.False(h.Manager.Units.ContainsKey("db"));

        var done = ((object[])(await Manager(c, "Reload"))[0]).Cast<DBusStruct>().ToList();
        Assert.Equal([("db", "Start")], done.Select(r => ((string)r[0], (string)r[1])));
        Assert.True(h.Manager.Units.ContainsKey("db"));
    }

    [Fact]
    public async Task A_state_change_is_signalled_with_UnitStateChanged()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper()));
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();
        var seen = new TaskCompletionSource<(string, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var match = await c.AddMatchAsync(new MatchRule { Type = MessageType.Signal, Interface = ControlApi.ManagerInterface, Member = "UnitStateChanged" }, m =>
        {
            var body = m.Body.ToArray();
            if ((string)body[0] == "web" && (string)body[1] == "inactive") seen.TrySetResult(((string)body[1], (string)body[2]));
        }, TestContext.Current.CancellationToken);

        await Manager(c, "StopUnit", "ss", "web", "replace");
        Assert.Equal(("inactive", "dead"), await seen.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Readiness_and_the_probes_are_unit_properties_and_a_change_is_signalled_with_PropertiesChanged()
    {
        await using var h = await Started(h => h.WriteUnit("web", ApiHarness.Sleeper(
            "[Health]\nReadinessProbe = { Tcp = \"127.0.0.1:8080\", PeriodSec = 0.1, TimeoutSec = 0.1, FailureThreshold = 2 }\n")));
        await h.WaitForAsync("web", "active");
        await using var c = await h.ConnectAsync();
        var path = ControlApi.UnitPath("web").ToString();
        Assert.Equal("ready", await Get(c, path, ControlApi.UnitInterface, "Readiness"));
        Assert.Equal("ok (1/1)", await Get(c, path, ControlApi.UnitInterface, "ReadinessProbe"));
        Assert.Equal("", await Get(c, path, ControlApi.UnitInterface, "LivenessProbe"));

        int signalled = 0;
        await using var match = await c.AddMatchAsync(new MatchRule { Type = MessageType.Signal, Interface = Properties, Member = "PropertiesChanged", Path = ControlApi.UnitPath("web") },
            m => { if ((string)m.Body.ToArray()[0] == ControlApi.UnitInterface) Interlocked.Increment(ref signalled); }, TestContext.Current.CancellationToken);
        h.Host.ProbesPass["web"] = false;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((string)await Get(c, path, ControlApi.UnitInterface, "Readiness") != "not-ready" && DateTime.UtcNow < deadline)
            await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal("not-ready", await Get(c, path, ControlApi.UnitInterface, "Readiness"));
        Assert.Equal("failed (2/2): HTTP 503", await Get(c, path, ControlApi.UnitInterface, "ReadinessProbe"));
        Assert.Equal("active", await Get(c, path, ControlApi.UnitInterface, "ActiveState"));
        while (Volatile.Read(ref signalled) == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.True(Volatile.Read(ref signalled) > 0, "no PropertiesChanged for the unit");
    }

    // ── who may change state ─────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "StartUnit", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "StopUnit", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "RestartUnit", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "ReloadUnit", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "ResetFailedUnit", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "Reload", true)]
    [InlineData(CallKind.SetProperty, "io.supervisor.Unit1", "Description", true)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "ListUnits", false)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "GetUnit", false)]
    [InlineData(CallKind.Method, "io.supervisor.Manager1", "Plan", false)]
    [InlineData(CallKind.GetProperty, "io.supervisor.Unit1", "MainPID", false)]
    [InlineData(CallKind.GetAllProperties, "io.supervisor.Unit1", "", false)]
    public void Only_calls_that_change_state_are_checked(CallKind kind, string iface, string member, bool mutating) =>
        Assert.Equal(mutating, ControlApi.IsMutating(kind, iface, member));

    [Fact]
    public void Root_and_members_of_the_admin_group_may_change_state_and_others_are_told_why_not()
    {
        var root = new PeerCredentials(1, 0, 0, []);
        var alice = new PeerCredentials(2, 1000, 1000, [27]);
        var admin = new PeerCredentials(3, 1001, 4242, []);

        Assert.Null(ControlApi.Refusal(root, null, "StopUnit"));
        Assert.Null(ControlApi.Refusal(alice, 27, "StopUnit"));   // a supplementary group
        Assert.Null(ControlApi.Refusal(admin, 4242, "StopUnit")); // the primary group
        Assert.Equal("StopUnit changes the state of units: it needs uid 0; you are uid 1000", ControlApi.Refusal(alice, null, "StopUnit"));
        Assert.Equal("StartUnit changes the state of units: it needs uid 0 or membership of the admin group (gid 4242); you are uid 1000",
            ControlApi.Refusal(alice, 4242, "StartUnit"));
    }

    [Fact]
    public async Task Over_the_socket_a_caller_who_is_neither_root_nor_admin_is_refused_and_an_admin_is_not()
    {
        const uint adminGid = 4242;
        await using var h = new ApiHarness();
        h.WriteUnit("web", ApiHarness.Sleeper());
        await h.StartAsync(adminGid: adminGid);
        await h.WaitForAsync("web", "active");

        if (Uid() != 0)
        {
            // This process is the unprivileged caller.
            await using var c = await h.ConnectAsync();
            var e = await Assert.ThrowsAsync<DBusErrorException>(() => Manager(c, "StopUnit", "ss", "web", "replace"));
            Assert.Equal(DBusErrors.AccessDenied, e.ErrorName);
            Assert.Contains($"you are uid {Uid()}", e.Message);
            Assert.Equal("active", StateOf(h, "web"));
            return;
        }
        // As root, the callers are CLI processes with other credentials (the kernel's SO_PEERCRED, nothing faked).
        var refused = RunCliAs("--reuid=65534", "--regid=65534", "--clear-groups", "stop", "web", "--runtime-dir", h.Runtime);
        Assert.True(refused.Code == 1, refused.Err);
        Assert.Contains("StopUnit changes the state of units: it needs uid 0 or membership of the admin group (gid 4242); you are uid 65534", refused.Err);
        Assert.Equal("active", StateOf(h, "web"));
        Assert.Contains(h.DaemonLog, l => l.StartsWith("refused StopUnit from uid 65534", StringComparison.Ordinal));
        Assert.Empty(h.UnitLogLines);

        var admitted = RunCliAs("--reuid=65534", "--regid=65534", $"--groups={adminGid}", "stop", "web", "--runtime-dir", h.Runtime);
        Assert.True(admitted.Code == 0, admitted.Err);
        Assert.Equal("inactive", StateOf(h, "web"));
        Assert.Single(h.UnitLogLines, l => l.StartsWith("web: stop requested by uid 65534 (pid ", StringComparison.Ordinal));
    }

    private static string StateOf(ApiHarness h, string unit) => Supervisor.Supervision.StateNames.Name(h.Manager.Units[unit].Active);

    internal static uint Uid() => uint.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal))
        .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The real `supervisor` binary under setpriv with other credentials.</summary>
    private static (int Code, string Out, string Err) RunCliAs(params string[] args)
    {
        var split = Array.FindIndex(args, a => !a.StartsWith("--", StringComparison.Ordinal));
        var psi = new ProcessStartInfo("setpriv", [.. args[..split], "env", "DOTNET_CLI_HOME=/tmp", "dotnet", Path.Combine(AppContext.BaseDirectory, "supervisor.dll"), .. args[split..]])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
