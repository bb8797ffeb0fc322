using System.Globalization;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #15, exec lines, with the real daemon and kernel: "+" outside the sandbox as root while
/// ExecStart runs as its User, "!" as root with the sandbox's mount view, "@" argv[0], several
/// ExecStart lines of a oneshot in order, $MAINPID in ExecReload, and haproxy's
/// Environment + $CONFIG form.
/// </summary>
public class ExecLineDaemonTests
{
    private static string Quote(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    private static uint Uid(int pid) =>
        uint.Parse(File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Plus_runs_outside_a_strict_sandbox_as_root_and_bang_runs_as_root_inside_it_while_ExecStart_runs_as_its_user()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var pre = Path.Combine(d.Root, "pre-uid");
        var bang = Path.Combine(d.Root, "bang-file");
        d.WriteUnit("plus", $"""
            [Service]
            User = "nobody"
            ExecStartPre = [["+/bin/sh", "-c", "{Quote($"id -u > {pre}")}"], ["/bin/sh", "-c", "{Quote($"touch {pre}-plain || echo plain-readonly")}"]]
            ExecStart = ["/bin/sleep", "1000"]
            ExecStartPost = [["-!/bin/sh", "-c", "{Quote($"echo bang-uid=$(id -u); touch {bang} || echo bang-readonly")}"]]
            [Sandbox]
            ProtectSystem = "strict"
            """);
        d.Start();
        d.WaitForState("plus", "active", "running");
        // "+": root, and its write landed although / is read-only for the unit.
        Assert.Equal("0", File.ReadAllText(pre).Trim());
        // The same command without "+" is in the sandbox (and nobody): the write fails.
        Assert.False(File.Exists(pre + "-plain"));
        // ExecStart runs as the unit's User.
        Assert.Equal(65534u, Uid(d.MainPid("plus")));
        // "!": root, but / is read-only as for the service.
        d.WaitFor(() => d.Cli("logs", "plus", "--runtime-dir", d.Runtime).Out.Contains("bang-readonly", StringComparison.Ordinal), "the ! command's output");
        var log = d.Cli("logs", "plus", "--runtime-dir", d.Runtime).Out;
        Assert.Contains("bang-uid=0", log, StringComparison.Ordinal);
        Assert.Contains("plain-readonly", log, StringComparison.Ordinal);
        Assert.False(File.Exists(bang));
        // The control commands' privileges are no drift of the main process.
        var inspect = d.Cli("inspect", "plus");
        Assert.True(inspect.Code == 0, inspect.Out + inspect.Err);
        Assert.DoesNotContain("DIFF", inspect.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task At_sets_argv0_and_a_oneshot_runs_its_three_ExecStart_lines_in_order()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var order = Path.Combine(d.Root, "order");
        d.WriteUnit("named", "[Service]\nExecStart = [\"@/bin/sleep\", \"my-sleeper\", \"1000\"]\n");
        d.WriteUnit("three", $"""
            [Service]
            Type = "oneshot"
            RemainAfterExit = true
            ExecStart = [["/bin/sh", "-c", "echo 1 >> {order}"], ["-/bin/sh", "-c", "echo 2 >> {order}; exit 3"], ["/bin/sh", "-c", "echo 3 >> {order}"]]
            """);
        d.Start();
        d.WaitForState("named", "active", "running");
        var cmdline = File.ReadAllText($"/proc/{d.MainPid("named").ToString(CultureInfo.InvariantCulture)}/cmdline");
        Assert.Equal(["my-sleeper", "1000", ""], cmdline.Split('\0'));
        // The program executed is /bin/sleep all the same.
        Assert.EndsWith("/sleep", new FileInfo($"/proc/{d.MainPid("named").ToString(CultureInfo.InvariantCulture)}/exe").LinkTarget, StringComparison.Ordinal);
        d.WaitForState("three", "active", "exited");
        Assert.Equal(["1", "2", "3"], File.ReadAllLines(order));
    }

    [Fact]
    public async Task MAINPID_in_ExecReload_reaches_the_main_process_and_Environment_variables_expand_as_haproxy_uses_them()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var hup = Path.Combine(d.Root, "hup");
        var args = Path.Combine(d.Root, "args");
        d.WriteUnit("reloader", $$"""
            [Service]
            Environment = { CONFIG = "/etc/haproxy/haproxy.cfg", OPTS = "-a  -b" }
            ExecStart = ["/bin/sh", "-c", "printf '[%%s]' \"$@\" > {{args}}; trap 'echo hup >> {{hup}}' HUP; while :; do sleep 0.2; done", "sh", "-f", "$CONFIG", "$OPTS", "${OPTS}", "$$CONFIG", "$NOT_SET"]
            ExecReload = [["/bin/kill", "-HUP", "$MAINPID"]]
            """);
        d.Start();
        d.WaitForState("reloader", "active", "running");
        d.WaitFor(() => File.Exists(args) && File.ReadAllText(args).Length > 0, "the service to write its arguments");
        Assert.Equal("[-f][/etc/haproxy/haproxy.cfg][-a][-b][-a  -b][$CONFIG]", File.ReadAllText(args));
        var reload = d.Cli("reload", "reloader");
        Assert.True(reload.Code == 0, reload.Out + reload.Err);
        d.WaitFor(() => File.Exists(hup) && File.ReadAllText(hup).Contains("hup", StringComparison.Ordinal), "the main process to get SIGHUP from ExecReload's $MAINPID");
        Assert.Equal("active", d.Prop("reloader", "ActiveState"));
    }
}
