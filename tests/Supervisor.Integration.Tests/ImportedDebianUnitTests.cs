using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #15's "done when": Debian's own unit files, as the packages install them in
/// /lib/systemd/system, go through <c>supervisor import</c> with nothing edited, and the
/// daemons they describe start, answer on loopback, reload where the original can, and stop
/// leaving nothing behind. Each daemon runs with its Debian configuration on its Debian port, so
/// a test skips itself when that port is already taken on this machine.
/// </summary>
[Collection("real daemons")]
public class ImportedDebianUnitTests
{
    private const string SystemdUnits = "/lib/systemd/system";

    [Fact]
    public async Task Redis_notify_RuntimeDirectory_and_all_of_its_hardening()
    {
        Require("redis-server.service", "/usr/bin/redis-server", port: 6379);
        await using var d = new Daemon();
        // Debian asks for LimitNOFILE=65535; root on this machine has a hard limit of 20000 and no
        // CAP_SYS_RESOURCE, so systemd itself could not raise it either. A drop-in, systemd's own
        // way to override a packaged unit, lowers it; the unit file stays Debian's.
        var dropIns = HardNofile() < 65535 ? new Dictionary<string, string> { ["limits.conf"] = $"[Service]\nLimitNOFILE={HardNofile()}\n" } : null;
        Import(d, "redis-server.service", dropIns);
        d.Start();
        d.WaitForState("redis-server", "active", "running");

        Assert.Equal("+PONG", Ask(6379, "PING\r\n"));
        var run = new DirectoryInfo("/run/redis");
        Assert.True(run.Exists, "RuntimeDirectory=redis was not created");
        Assert.Equal("redis", Owner(run.FullName));
        Assert.Equal(d.MainPid("redis-server"), int.Parse(File.ReadAllText("/run/redis/redis-server.pid").Trim(), System.Globalization.CultureInfo.InvariantCulture));
        var (code, inspect, err) = d.Cli("inspect", "redis-server");
        Assert.True(code == 0, $"inspect exited {code}:\n{inspect}\n{err}");
        Assert.DoesNotContain("DIFF", inspect);

        Stop(d, "redis-server");
        Assert.False(Directory.Exists("/run/redis"), "RuntimeDirectory=redis was left behind after the stop");
    }

    [Fact]
    public async Task Nginx_forking_ExecStartPre_and_a_reload_with_MAINPID_that_replaces_the_workers()
    {
        Require("nginx.service", "/usr/sbin/nginx", port: 80);
        await using var d = new Daemon();
        Import(d, "nginx.service");
        d.Start();
        d.WaitForState("nginx", "active", "running");

        var master = d.MainPid("nginx");
        Assert.Equal(master, int.Parse(File.ReadAllText("/run/nginx.pid").Trim(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("nginx", Comm(master));
        Assert.StartsWith("HTTP/1.1 200", Ask(80, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"));

        var workers = Children(master);
        Assert.NotEmpty(workers);
        var (code, _, err) = d.Cli("reload", "nginx");
        Assert.True(code == 0, $"reload failed: {err}\n{d.Log}");
        d.WaitFor(() => Children(master) is var now && now.Count > 0 && !now.Intersect(workers).Any(), "nginx to replace its workers after the reload");
        Assert.Equal(master, d.MainPid("nginx"));
        Assert.StartsWith("HTTP/1.1 200", Ask(80, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"));

        Stop(d, "nginx");
        Assert.False(Alive(master), "the nginx master outlived the stop");
    }

    [Fact]
    public async Task Postgresql_template_instance_starts_answers_reloads_and_stops()
    {
        Require("postgresql@.service", "/usr/bin/pg_ctlcluster", port: 5432);
        var cluster = Directory.Exists("/etc/postgresql") ? Directory.GetDirectories("/etc/postgresql").Select(Path.GetFileName).OrderBy(v => v).LastOrDefault() : null;
        if (cluster is null || !File.Exists($"/etc/postgresql/{cluster}/main/postgresql.conf")) Assert.Skip("no PostgreSQL cluster 'main' (Debian's postgresql package creates one)");
        var instance = $"postgresql@{cluster}-main";
        await using var d = new Daemon();
        Import(d, "postgresql@.service", null, "postgresql.service");
        d.Start();
        Assert.Equal(0, d.Cli("start", instance).Code);
        d.WaitForState(instance, "active", "running");

        Assert.Equal("postgres", Comm(d.MainPid(instance)));
        Assert.Equal("1", RunOut("runuser", "-u", "postgres", "--", "psql", "-h", "/var/run/postgresql", "-tAc", "select 1").Trim());
        var (code, _, err) = d.Cli("reload", instance);
        Assert.True(code == 0, $"reload failed: {err}\n{d.Log}");
        Assert.Equal("1", RunOut("runuser", "-u", "postgres", "--", "psql", "-h", "/var/run/postgresql", "-tAc", "select 1").Trim());

        var main = d.MainPid(instance);
        Stop(d, instance);
        Assert.False(Alive(main), "the postmaster outlived the stop");
    }

    [Fact]
    public async Task Memcached_answers_stats()
    {
        Require("memcached.service", "/usr/bin/memcached", port: 11211);
        await using var d = new Daemon();
        Import(d, "memcached.service");
        d.Start();
        d.WaitForState("memcached", "active", "running");
        d.WaitFor(() => Listening(11211), "memcached to listen");
        Assert.StartsWith("STAT pid", Ask(11211, "stats\r\n"));
        Stop(d, "memcached");
    }

    [Fact]
    public async Task Haproxy_and_rsyslog_notify_master_socket_and_a_two_line_reload()
    {
        Require("haproxy.service", "/usr/sbin/haproxy", port: null);
        Require("rsyslog.service", "/usr/sbin/rsyslogd", port: null);
        if (File.Exists("/dev/log") || Directory.Exists("/dev/log")) Assert.Skip("/dev/log exists: another syslog daemon runs on this machine");
        await using var d = new Daemon();
        Import(d, "rsyslog.service", null, "haproxy.service");
        d.Start();
        d.WaitForState("rsyslog", "active", "running");
        d.WaitForState("haproxy", "active", "running");

        // rsyslog answers: a line sent to /dev/log reaches /var/log/syslog.
        var marker = "supervisor-it-" + Guid.NewGuid().ToString("N")[..12];
        Run("logger", "-t", "supervisor-it", marker);
        d.WaitFor(() => File.Exists("/var/log/syslog") && File.ReadAllText("/var/log/syslog").Contains(marker, StringComparison.Ordinal), "the logged line in /var/log/syslog");

        var master = d.MainPid("haproxy");
        Assert.Contains("master", AskUnix("/run/haproxy-master.sock", "show proc\n"));
        var (code, _, err) = d.Cli("reload", "haproxy");
        Assert.True(code == 0, $"reload failed: {err}\n{d.Log}");
        // The master re-executes itself on reload and opens its socket again: refused meanwhile.
        d.WaitFor(() => { try { return AskUnix("/run/haproxy-master.sock", "show proc\n").Contains("1 ", StringComparison.Ordinal); } catch (SocketException) { return false; } }, "haproxy to count the reload");
        Assert.Equal(master, d.MainPid("haproxy"));

        Stop(d, "haproxy");
        Stop(d, "rsyslog");
        Assert.False(File.Exists("/dev/log"), "rsyslog left /dev/log behind");
    }

    [Fact]
    public async Task Ssh_condition_RuntimeDirectory_and_a_reload_by_SIGHUP()
    {
        Require("ssh.service", "/usr/sbin/sshd", port: 22);
        await using var d = new Daemon();
        Import(d, "ssh.service");
        d.Start();
        d.WaitForState("ssh", "active", "running");
        Assert.True(Directory.Exists("/run/sshd"), "RuntimeDirectory=sshd was not created");
        Assert.StartsWith("SSH-2.0-OpenSSH", Banner(22));

        var main = d.MainPid("ssh");
        var (code, _, err) = d.Cli("reload", "ssh");
        Assert.True(code == 0, $"reload failed: {err}\n{d.Log}");
        d.WaitForState("ssh", "active", "running");
        d.WaitFor(() => { try { return Banner(22).StartsWith("SSH-2.0-OpenSSH", StringComparison.Ordinal); } catch (SocketException) { return false; } }, "sshd to answer after SIGHUP");
        Assert.Equal(main, d.MainPid("ssh"));

        Stop(d, "ssh");
        Assert.False(Directory.Exists("/run/sshd"), "RuntimeDirectory=sshd was left behind");
    }

    [Fact]
    public async Task Cron_runs_and_stops()
    {
        Require("cron.service", "/usr/sbin/cron", port: null);
        if (File.Exists("/run/crond.pid") && Alive(int.Parse(File.ReadAllText("/run/crond.pid").Trim(), System.Globalization.CultureInfo.InvariantCulture)))
            Assert.Skip("a cron daemon already runs on this machine");
        await using var d = new Daemon();
        Import(d, "cron.service");
        d.Start();
        d.WaitForState("cron", "active", "running");
        Assert.Equal("cron", Comm(d.MainPid("cron")));
        var main = d.MainPid("cron");
        Stop(d, "cron");
        Assert.False(Alive(main));
    }

    // ── helpers ──

    private static void Require(string unit, string program, int? port)
    {
        Daemon.RequireRoot();
        if (!File.Exists(Path.Combine(SystemdUnits, unit)) || !File.Exists(program))
            Assert.Skip($"{unit} is not installed (install.sh --test-deps installs the Debian packages)");
        if (port is { } p && Listening(p)) Assert.Skip($"port {p} is already taken on this machine; the Debian configuration listens there");
    }

    /// <summary>
    /// Copies the packaged unit files byte for byte (with optional drop-ins for the first) and
    /// runs <c>supervisor import</c> on them into the daemon's units directory.
    /// </summary>
    private static void Import(Daemon d, string unit, Dictionary<string, string>? dropIns = null, params string[] more)
    {
        var src = Path.Combine(d.Root, "systemd");
        Directory.CreateDirectory(src);
        foreach (var u in new[] { unit }.Concat(more))
        {
            File.Copy(Path.Combine(SystemdUnits, u), Path.Combine(src, u));
            Assert.Equal(File.ReadAllBytes(Path.Combine(SystemdUnits, u)), File.ReadAllBytes(Path.Combine(src, u)));
        }
        if (dropIns is not null)
        {
            Directory.CreateDirectory(Path.Combine(src, unit + ".d"));
            foreach (var (name, text) in dropIns) File.WriteAllText(Path.Combine(src, unit + ".d", name), text);
        }
        var psi = Daemon.SupervisorProcess(["import", .. new[] { unit }.Concat(more).Select(u => Path.Combine(src, u)), "--out", d.Units]);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        var (code, check, err) = d.Cli("check", d.Units);
        Assert.True(code == 0, $"the imported units do not pass check ({code}):\n{check}\n{err}\nimport said:\n{output}");
    }

    private static void Stop(Daemon d, string unit)
    {
        var (code, _, err) = d.Cli("stop", unit);
        Assert.True(code == 0, $"stop {unit} failed: {err}\n{d.Log}");
        d.WaitForState(unit, "inactive", "dead");
        // Stopped for good: the unit's cgroup is removed, or at least has no process left.
        var procs = Path.Combine(d.CgroupDir(unit.EndsWith(".service", StringComparison.Ordinal) ? unit[..^".service".Length] : unit), "cgroup.procs");
        Assert.True(!File.Exists(procs) || File.ReadAllLines(procs).Length == 0, $"{unit} left processes behind: {(File.Exists(procs) ? File.ReadAllText(procs) : "")}");
    }

    private static long HardNofile() =>
        File.ReadAllLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries) is var f && long.TryParse(f[4], out var hard) ? hard : long.MaxValue;

    private static bool Listening(int port)
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string Ask(int port, string request)
    {
        using var client = new TcpClient("127.0.0.1", port) { ReceiveTimeout = IoTimeoutMs, SendTimeout = IoTimeoutMs };
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(request));
        return new StreamReader(stream, Encoding.ASCII).ReadLine() ?? "";
    }

    private static string Banner(int port)
    {
        using var client = new TcpClient("127.0.0.1", port) { ReceiveTimeout = IoTimeoutMs };
        return new StreamReader(client.GetStream(), Encoding.ASCII).ReadLine() ?? "";
    }

    private static string AskUnix(string path, string request)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = IoTimeoutMs, SendTimeout = IoTimeoutMs };
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.Send(Encoding.ASCII.GetBytes(request));
        // As socat does: the end of the request is the end of our side; haproxy's master CLI answers and closes then.
        s.Shutdown(SocketShutdown.Send);
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        for (int n; (n = s.Receive(buffer)) > 0;) answer.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return answer.ToString();
    }

    private static string Owner(string path) => RunOut("stat", "-c", "%U", path).Trim();

    private static string Comm(int pid) => File.ReadAllText($"/proc/{pid}/comm").Trim();

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static List<int> Children(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        return File.Exists(path)
            ? File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToList()
            : [];
    }

    /// <summary>A daemon that accepts and never answers fails the test instead of hanging the run.</summary>
    private const int IoTimeoutMs = 60_000;

    private static void Run(string program, params string[] args) => RunOut(program, args);

    private static string RunOut(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(IoTimeoutMs * 2))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish");
        }
        var output = stdout.Result;
        var err = stderr.Result;
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {p.ExitCode}: {err}");
        return output;
    }
}
