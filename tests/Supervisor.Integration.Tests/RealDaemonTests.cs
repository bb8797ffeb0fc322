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

    private const string DebianFilter = "SystemCallFilter = [\"@system-service\", \"~@privileged @resources\"]";

    [Fact]
    public async Task Debian_redis_with_all_its_hardening_answers_PING_keeps_its_data_on_stop_and_inspect_finds_every_item()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/redis-server")) Assert.Skip("redis-server is not installed (Debian package redis-server; install.sh --test-deps installs it)");
        // Outside /tmp: the unit's /tmp is private, so its configuration and data must live elsewhere.
        var dir = $"/var/lib/supervisor-it-redis-{Guid.NewGuid():N}"[..40];
        Directory.CreateDirectory(dir);
        try
        {
            int port = Daemon.FreePort();
            File.WriteAllText($"{dir}/redis.conf", $"bind 127.0.0.1\nport {port}\ndir {dir}\nsave 3600 1\ndbfilename dump.rdb\nlogfile \"\"\n");
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
