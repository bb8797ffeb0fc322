using System.Net.Sockets;
using System.Text;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Real third-party daemons from Debian, run with the hardening their own Debian unit files
/// declare (issue #14's "done when"): they start, serve, stop, and inspect finds every item of
/// the sandbox in place.
/// </summary>
[Collection("real daemons")]
public class RealDaemonTests
{
    /// <summary>
    /// Every hardening line of Debian 12's /lib/systemd/system/redis-server.service, in
    /// Supervisor's sections. Two differences, both forced by the test, not by the sandbox: the
    /// data directory is the test's own (not /var/lib/redis), and LimitNOFILE is lower than
    /// Debian's 65535 because root here has a hard RLIMIT_NOFILE of 20000 and no CAP_SYS_RESOURCE.
    /// <paramref name="filter"/> replaces its SystemCallFilter line; <paramref name="execPaths"/> adds to its ExecPaths.
    /// </summary>
    internal static string RedisUnit(string dir, string filter = DebianFilter, string execPaths = "") => $$"""
        [Unit]
        Description = "Advanced key-value store (Debian's hardening)"

        [Service]
        Type = "notify"
        ExecStart = ["/usr/bin/redis-server", "{{dir}}/redis.conf", "--supervised", "systemd", "--daemonize", "no"]
        TimeoutStopSec = 0
        Restart = "always"
        User = "redis"
        Group = "redis"
        LimitNOFILE = 10000

        [Sandbox]
        UMask = "007"
        PrivateTmp = true
        PrivateDevices = true
        ProtectHome = true
        ProtectSystem = "strict"
        ReadWritePaths = ["-{{dir}}", "-/var/log/redis"]
        CapabilityBoundingSet = []
        LockPersonality = true
        MemoryDenyWriteExecute = true
        NoNewPrivileges = true
        PrivateUsers = true
        ProtectClock = true
        ProtectControlGroups = true
        ProtectHostname = true
        ProtectKernelLogs = true
        ProtectKernelModules = true
        ProtectKernelTunables = true
        ProtectProc = "invisible"
        RemoveIPC = true
        RestrictAddressFamilies = ["AF_INET", "AF_INET6", "AF_UNIX"]
        RestrictNamespaces = true
        RestrictRealtime = true
        RestrictSUIDSGID = true
        SystemCallArchitectures = ["native"]
        {{filter}}
        NoExecPaths = ["/"]
        ExecPaths = ["/usr/bin/redis-server", "/usr/lib", "/lib"{{execPaths}}]
        """;

    /// <summary>
    /// A data directory for redis outside /tmp (the unit's /tmp is private, so its configuration
    /// and data must live elsewhere) with a redis.conf on a free loopback port; the caller chowns
    /// it to redis once it has put in it what it needs, and removes it.
    /// </summary>
    internal static (string Dir, int Port) RedisDataDir(string prefix, string save)
    {
        var dir = $"/var/lib/supervisor-it-{prefix}-{Guid.NewGuid():N}"[..40];
        Directory.CreateDirectory(dir);
        int port = Daemon.FreePort();
        File.WriteAllText($"{dir}/redis.conf", $"bind 127.0.0.1\nport {port}\ndir {dir}\nsave {save}\ndbfilename dump.rdb\nlogfile \"\"\n");
        return (dir, port);
    }

    private const string DebianFilter = "SystemCallFilter = [\"@system-service\", \"~@privileged @resources\"]";

    [Fact]
    public async Task Debian_redis_with_all_its_hardening_answers_PING_keeps_its_data_on_stop_and_inspect_finds_every_item()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/redis-server")) Assert.Skip("redis-server is not installed (Debian package redis-server; install.sh --test-deps installs it)");
        var (dir, port) = RedisDataDir("redis", "3600 1");
        try
        {
            Run("chown", "-R", "redis:redis", dir);
            await using var d = new Daemon();
            d.WriteUnit("redis", RedisUnit(dir));
            d.Start();
            d.WaitForState("redis", "active", "running");

            Assert.Equal("+PONG", Ask(port, "PING"));
            Assert.Equal("+OK", Ask(port, "SET supervisor-key kept-on-stop"));

            var (code, inspect, err) = d.Cli("inspect", "redis");
            Assert.True(code == 0, $"inspect exited {code}:\n{inspect}\n{err}");
            Assert.DoesNotContain("DIFF", inspect);
            foreach (var item in new[] { "namespace user", "seccomp", "NoNewPrivs", "CapBnd" })
                Assert.Contains(item, inspect);

            // TimeoutStopSec=0 is "no timeout": redis gets to write its final save.
            Assert.Equal(0, d.Cli("stop", "redis").Code);
            d.WaitForState("redis", "inactive");
            Assert.Contains("supervisor-key", Encoding.Latin1.GetString(File.ReadAllBytes($"{dir}/dump.rdb")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The same unit with @system-service-strict in place of @system-service: redis serves, forks
    /// its background save, and not one call was denied (a denied call would kill it: no
    /// SystemCallErrorNumber).
    /// </summary>
    [Fact]
    public async Task Debian_redis_serves_under_the_strict_service_set_without_a_single_denial()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/redis-server")) Assert.Skip("redis-server is not installed (Debian package redis-server; install.sh --test-deps installs it)");
        var (dir, port) = RedisDataDir("redis", "\"\"");
        try
        {
            Run("chown", "-R", "redis:redis", dir);
            await using var d = new Daemon();
            d.WriteUnit("redis", RedisUnit(dir, "SystemCallFilter = [\"@system-service-strict\", \"~@privileged @resources\"]"));
            d.Start();
            d.WaitForState("redis", "active", "running");

            Assert.Equal("+PONG", Ask(port, "PING"));
            Assert.Equal("+OK", Ask(port, "SET strict-key v"));
            Assert.Equal("+OK", Ask(port, "SAVE"));
            Assert.Equal("+Background saving started", Ask(port, "BGSAVE"));
            d.WaitFor(() => AskAll(port, "INFO persistence").Contains("rdb_bgsave_in_progress:0"), "redis's background save (a forked child) to finish");
            Assert.Contains("rdb_last_bgsave_status:ok", AskAll(port, "INFO persistence"));
            Assert.Equal("+PONG", Ask(port, "PING"));

            var (code, status, err) = d.Cli("status", "redis");
            Assert.True(code == 0, $"status exited {code}:\n{status}\n{err}");
            Assert.DoesNotContain("Denied:", status);
            Assert.Equal("0", d.Prop("redis", "NRestarts"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A command's whole bulk reply (INFO), read until the connection has given it all.</summary>
    private static string AskAll(int port, string command)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(command + "\r\n"));
        var reader = new StreamReader(stream, Encoding.ASCII);
        var header = reader.ReadLine() ?? "";
        if (!header.StartsWith('$') || !int.TryParse(header[1..], out int length) || length < 0) return header;
        var buffer = new char[length];
        int read = 0;
        while (read < length && reader.Read(buffer, read, length - read) is > 0 and var n) read += n;
        return new string(buffer, 0, read);
    }

    /// <summary>One inline command on a fresh connection; the first reply line.</summary>
    internal static string Ask(int port, string command)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(command + "\r\n"));
        var reader = new StreamReader(stream, Encoding.ASCII);
        return reader.ReadLine() ?? "";
    }

    internal static void Run(string program, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(program, args)!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
