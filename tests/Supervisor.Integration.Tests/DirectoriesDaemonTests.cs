using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Supervisor.Linux.Files;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #15's per-unit directories and credentials with the real daemon: made as root before the
/// first command and owned by the service's user (seen with stat from outside), writable from
/// inside ProtectSystem="strict" (and not more), exported in the environment, RuntimeDirectory
/// removed per RuntimeDirectoryPreserve, credentials on a ramfs readable only by the service and
/// gone after stop; and Debian's redis with its RuntimeDirectory. Every unit and directory name
/// is unique to the test run, so the host's /run, /var/lib … are left as they were.
/// </summary>
public class DirectoriesDaemonTests
{
    private const uint Nobody = 65534;

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private static (uint Uid, uint Gid) Owner(string path) => HostFiles.Owner(path) ?? throw new FileNotFoundException(path);

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

    /// <summary>Removes what a test made below the managed roots, whatever happened to the test.</summary>
    private static void Clean(params string[] paths)
    {
        foreach (var p in paths)
        {
            try
            {
                if (Directory.Exists(p)) Directory.Delete(p, recursive: true);
                else if (File.Exists(p)) File.Delete(p);
            }
            catch (IOException) { }
        }
    }

    private static string Dirs(string name) => $"/run/{name}:/run/{name}-b/sub:/var/lib/{name}:/var/cache/{name}:/var/log/{name}:/etc/{name}";

    [Fact]
    public async Task Directories_are_made_for_the_user_with_their_modes_exported_and_writable_inside_a_strict_sandbox_and_RuntimeDirectory_goes_at_stop()
    {
        Daemon.RequireRoot();
        var n = Unique("hdirs");
        try
        {
            await using var d = new Daemon();
            // The service reports what it sees in its StateDirectory: the variables, and which writes succeeded.
            d.WriteUnit(n, $$"""
                [Service]
                ExecStart = ["/bin/sh", "-c", "r=$STATE_DIRECTORY/report; env | grep _DIRECTORY= | sort > $r; for p in /run/{{n}} /run/{{n}}-b/sub $CACHE_DIRECTORY $LOGS_DIRECTORY /etc/{{n}} /var/lib /run; do if touch $p/w 2>/dev/null; then echo writable $p >> $r; else echo refused $p >> $r; fi; done; echo done >> $r; exec sleep 1000"]
                User = "nobody"
                RuntimeDirectory = ["{{n}}", "{{n}}-b/sub"]
                RuntimeDirectoryMode = "2750"
                StateDirectory = ["{{n}}"]
                StateDirectoryMode = "0700"
                CacheDirectory = ["{{n}}"]
                LogsDirectory = ["{{n}}"]
                ConfigurationDirectory = ["{{n}}"]
                [Sandbox]
                ProtectSystem = "strict"
                ReadOnlyPaths = ["/var/log"]
                """);
            // An existing state directory of another owner is taken over with everything in it (systemd's recursive chown).
            Directory.CreateDirectory($"/var/lib/{n}/old/deeper");
            File.WriteAllText($"/var/lib/{n}/old/deeper/file", "x");
            d.Start();
            d.WaitForState(n, "active", "running");
            var report = $"/var/lib/{n}/report";
            d.WaitFor(() => File.Exists(report) && File.ReadAllText(report).Contains("done", StringComparison.Ordinal), "the service's report");
            var lines = File.ReadAllLines(report);

            // Seen from outside: owners and modes.
            Assert.Equal((Nobody, Nobody), Owner($"/run/{n}"));
            Assert.Equal("2750", Mode($"/run/{n}"));
            Assert.Equal((Nobody, Nobody), Owner($"/run/{n}-b/sub"));
            Assert.Equal((0u, 0u), Owner($"/run/{n}-b"));
            Assert.Equal("755", Mode($"/run/{n}-b"));
            Assert.Equal("700", Mode($"/var/lib/{n}"));
            Assert.Equal((Nobody, Nobody), Owner($"/var/lib/{n}/old/deeper/file"));
            Assert.Equal((Nobody, Nobody), Owner($"/var/cache/{n}"));
            Assert.Equal((Nobody, Nobody), Owner($"/var/log/{n}"));
            Assert.Equal((0u, 0u), Owner($"/etc/{n}"));

            // Seen from inside: the variables, and writes allowed exactly where systemd allows them.
            Assert.Contains($"RUNTIME_DIRECTORY=/run/{n}:/run/{n}-b/sub", lines);
            Assert.Contains($"STATE_DIRECTORY=/var/lib/{n}", lines);
            Assert.Contains($"CACHE_DIRECTORY=/var/cache/{n}", lines);
            Assert.Contains($"LOGS_DIRECTORY=/var/log/{n}", lines);
            Assert.Contains($"CONFIGURATION_DIRECTORY=/etc/{n}", lines);
            foreach (var w in new[] { $"/run/{n}", $"/run/{n}-b/sub", $"/var/cache/{n}", $"/var/log/{n}" })
                Assert.Contains($"writable {w}", lines);
            foreach (var r in new[] { $"/etc/{n}", "/var/lib", "/run" })
                Assert.Contains($"refused {r}", lines);
            Assert.Equal((Nobody, Nobody), Owner($"/run/{n}/w"));

            Assert.Equal(0, d.Cli("stop", n).Code);
            d.WaitForState(n, "inactive");
            Assert.False(Directory.Exists($"/run/{n}"), "RuntimeDirectory is removed when the unit stops");
            Assert.False(Directory.Exists($"/run/{n}-b/sub"));
            Assert.True(Directory.Exists($"/run/{n}-b"), "only the innermost directory of \"a/b\" is removed");
            Assert.True(File.Exists(report), "StateDirectory stays");
            Assert.True(Directory.Exists($"/var/cache/{n}") && Directory.Exists($"/var/log/{n}") && Directory.Exists($"/etc/{n}"));
        }
        finally
        {
            Clean($"/run/{n}", $"/run/{n}-b", $"/var/lib/{n}", $"/var/cache/{n}", $"/var/log/{n}", $"/etc/{n}");
        }
    }

    /// <summary>A service that counts its starts in its RuntimeDirectory and fails until the count reaches 3; what it saw goes to its StateDirectory.</summary>
    private static string Counter(string n, string preserve) => $$"""
        [Service]
        ExecStart = ["/bin/sh", "-c", "c=$(cat $RUNTIME_DIRECTORY/count 2>/dev/null || echo 0); c=$((c+1)); echo $c > $RUNTIME_DIRECTORY/count; echo $c >> $STATE_DIRECTORY/seen; if [ $c -lt 3 ]; then exit 1; fi; exec sleep 1000"]
        Restart = "always"
        RestartSec = "50ms"
        StartLimitBurst = 4
        RuntimeDirectory = ["{{n}}"]
        RuntimeDirectoryPreserve = {{preserve}}
        StateDirectory = ["{{n}}"]
        """;

    [Fact]
    public async Task RuntimeDirectoryPreserve_no_empties_it_at_every_restart_restart_keeps_it_until_a_real_stop_and_yes_keeps_it_after()
    {
        Daemon.RequireRoot();
        string wipe = Unique("hdno"), keep = Unique("hdrestart"), yes = Unique("hdyes");
        try
        {
            await using var d = new Daemon();
            d.WriteUnit(wipe, Counter(wipe, "false"));
            d.WriteUnit(keep, Counter(keep, "\"restart\""));
            d.WriteUnit(yes, Counter(yes, "true"));
            d.Start();
            d.WaitForState(keep, "active", "running");
            d.WaitForState(yes, "active", "running");
            Assert.Equal(["1", "2", "3"], File.ReadAllLines($"/var/lib/{keep}/seen"));
            Assert.Equal(["1", "2", "3"], File.ReadAllLines($"/var/lib/{yes}/seen"));
            // Preserve=no: each restart finds an empty directory, so the count never grows and the start limit ends it.
            d.WaitForState(wipe, "failed");
            var seen = File.ReadAllLines($"/var/lib/{wipe}/seen");
            Assert.True(seen.Length >= 3, string.Join(",", seen));
            Assert.All(seen, s => Assert.Equal("1", s));
            Assert.False(Directory.Exists($"/run/{wipe}"), "a failed unit is down for good: its RuntimeDirectory is gone");

            Assert.Equal(0, d.Cli("stop", keep).Code);
            Assert.Equal(0, d.Cli("stop", yes).Code);
            d.WaitForState(keep, "inactive");
            d.WaitForState(yes, "inactive");
            Assert.False(Directory.Exists($"/run/{keep}"), "Preserve=restart: removed on a real stop");
            Assert.Equal("3", File.ReadAllText($"/run/{yes}/count").Trim());
        }
        finally
        {
            foreach (var n in new[] { wipe, keep, yes }) Clean($"/run/{n}", $"/var/lib/{n}");
        }
    }

    [Fact]
    public async Task Credentials_are_on_a_ramfs_only_the_service_user_reads_inside_a_strict_sandbox_and_gone_after_stop()
    {
        Daemon.RequireRoot();
        string plain = Unique("hdcred"), hidden = Unique("hdcredrun"), src = $"/var/lib/{Unique("hdsrc")}";
        try
        {
            // The source is root's alone: the service could not read it, the supervisor copies it.
            Directory.CreateDirectory(src, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.WriteAllText($"{src}/token", "from-the-file\n");
            string Unit(string n, string sandbox) => $$"""
                [Service]
                ExecStart = ["/bin/sh", "-c", "r=$STATE_DIRECTORY/report; for f in token note; do cat $CREDENTIALS_DIRECTORY/$f > $STATE_DIRECTORY/$f.out; done; echo $CREDENTIALS_DIRECTORY >> $r; cat {{src}}/token >/dev/null 2>&1 || echo source-refused >> $r; touch $CREDENTIALS_DIRECTORY/x 2>/dev/null || echo read-only >> $r; echo done >> $r; exec sleep 1000"]
                User = "nobody"
                StateDirectory = ["{{n}}"]
                LoadCredential = ["token:{{src}}/token"]
                SetCredential = ["token:overridden", "note:two\\nlines\\x21"]
                [Sandbox]
                {{sandbox}}
                """;
            await using var d = new Daemon();
            d.WriteUnit(plain, Unit(plain, "ProtectSystem = \"strict\"\nPrivateTmp = true"));
            d.WriteUnit(hidden, Unit(hidden, "ProtectSystem = \"strict\"\nInaccessiblePaths = [\"/run\"]"));
            d.Start();
            foreach (var n in new[] { plain, hidden })
            {
                d.WaitForState(n, "active", "running");
                var report = $"/var/lib/{n}/report";
                d.WaitFor(() => File.Exists(report) && File.ReadAllText(report).Contains("done", StringComparison.Ordinal), $"{n}'s report");
                Assert.Equal([$"/run/credentials/{n}", "source-refused", "read-only", "done"], File.ReadAllLines(report));
                Assert.Equal("from-the-file\n", File.ReadAllText($"/var/lib/{n}/token.out"));
                Assert.Equal("two\nlines!", File.ReadAllText($"/var/lib/{n}/note.out"));

                var dir = $"/run/credentials/{n}";
                Assert.Equal((Nobody, Nobody), Owner(dir));
                Assert.Equal("500", Mode(dir));
                Assert.Equal((Nobody, Nobody), Owner($"{dir}/token"));
                Assert.Equal("400", Mode($"{dir}/token"));
                Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == dir && l.Contains(" - ramfs ", StringComparison.Ordinal));
            }
            // Inside InaccessiblePaths=/run nothing but the credentials is there.
            var ls = d.Cli("exec", hidden, "--runtime-dir", d.Runtime, "--cgroup-root", d.CgroupRoot, "--", "/bin/ls", "/run/credentials");
            Assert.Equal(hidden, ls.Out.Trim());

            foreach (var n in new[] { plain, hidden })
            {
                Assert.Equal(0, d.Cli("stop", n).Code);
                d.WaitForState(n, "inactive");
                Assert.False(Directory.Exists($"/run/credentials/{n}"));
                Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == $"/run/credentials/{n}");
            }
        }
        finally
        {
            Clean(src, $"/var/lib/{plain}", $"/var/lib/{hidden}");
        }
    }

    [Fact]
    public async Task A_missing_LoadCredential_file_fails_the_start_with_the_key_and_the_path()
    {
        Daemon.RequireRoot();
        var n = Unique("hdmiss");
        await using var d = new Daemon();
        d.WriteUnit(n, $"[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\nLoadCredential = [\"key:/nonexistent/{n}\"]\n");
        d.Start();
        d.WaitForState(n, "failed");
        var status = d.Cli("status", n).Out;
        Assert.Contains($"{n}: LoadCredential=key:/nonexistent/{n}: cannot read '/nonexistent/{n}': it does not exist", status + d.Log);
        Assert.False(Directory.Exists($"/run/credentials/{n}"));
    }

    /// <summary>
    /// systemd's credential stores: a bare ID (and ID:NAME) is found in /run/credstore, one found
    /// nowhere is skipped without failing the start, and a missing file with a SetCredential of the
    /// same ID falls back to that value.
    /// </summary>
    [Fact]
    public async Task A_bare_LoadCredential_ID_comes_from_the_credential_store_and_a_missing_one_is_skipped()
    {
        Daemon.RequireRoot();
        var n = Unique("hdstore");
        string present = $"{n}-present", absent = $"{n}-absent";
        bool madeStore = !Directory.Exists("/run/credstore");
        Directory.CreateDirectory("/run/credstore");
        try
        {
            File.WriteAllText($"/run/credstore/{present}", "from-the-store\n");
            await using var d = new Daemon();
            d.WriteUnit(n, $$"""
                [Service]
                ExecStart = ["/bin/sh", "-c", "cd $CREDENTIALS_DIRECTORY && ls > $STATE_DIRECTORY/list && cat {{present}} alias fb > $STATE_DIRECTORY/data && exec sleep 1000"]
                StateDirectory = ["{{n}}"]
                LoadCredential = ["{{present}}", "alias:{{present}}", "{{absent}}", "fb:/nonexistent/{{n}}"]
                SetCredential = ["fb:fallback"]
                """);
            d.Start();
            d.WaitForState(n, "active", "running");
            d.WaitFor(() => File.Exists($"/var/lib/{n}/data") && File.ReadAllText($"/var/lib/{n}/data").Contains("fallback", StringComparison.Ordinal), $"{n}'s credentials");
            Assert.Equal(["alias", "fb", present], File.ReadAllLines($"/var/lib/{n}/list"));
            Assert.Equal("from-the-store\nfrom-the-store\nfallback", File.ReadAllText($"/var/lib/{n}/data"));
            Assert.Equal(0, d.Cli("stop", n).Code);
        }
        finally
        {
            File.Delete($"/run/credstore/{present}");
            if (madeStore) Directory.Delete("/run/credstore");
            Clean($"/var/lib/{n}");
        }
    }

    [Fact]
    public async Task Debian_redis_keeps_its_pid_file_and_socket_in_its_RuntimeDirectory_of_mode_2755_owned_by_redis()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/redis-server")) Assert.Skip("redis-server is not installed (Debian package redis-server; install.sh --test-deps installs it)");
        // Not "redis": the host's own /run/redis may exist and belong to a running redis.
        var run = Unique("redis-hdirs");
        var conf = $"/var/lib/{Unique("hdredisconf")}";
        try
        {
            Directory.CreateDirectory(conf);
            int port = Daemon.FreePort();
            File.WriteAllText($"{conf}/redis.conf",
                $"bind 127.0.0.1\nport {port}\ndir /var/lib/{run}\nsave \"\"\nlogfile \"\"\npidfile /run/{run}/redis-server.pid\nunixsocket /run/{run}/redis-server.sock\nunixsocketperm 770\n");
            await using var d = new Daemon();
            // The lines of Debian 12's redis-server.service that concern its directories, with its hardening around them.
            d.WriteUnit("redis", $$"""
                [Service]
                Type = "notify"
                ExecStart = ["/usr/bin/redis-server", "{{conf}}/redis.conf", "--supervised", "systemd", "--daemonize", "no"]
                TimeoutStopSec = 0
                User = "redis"
                Group = "redis"
                RuntimeDirectory = ["{{run}}"]
                RuntimeDirectoryMode = "2755"
                StateDirectory = ["{{run}}"]
                [Sandbox]
                UMask = "007"
                PrivateTmp = true
                ProtectSystem = "strict"
                ProtectHome = true
                """);
            d.Start();
            d.WaitForState("redis", "active", "running");
            var (uid, gid) = Owner($"/run/{run}");
            Assert.Equal(uid.ToString(CultureInfo.InvariantCulture), Run("id", "-u", "redis"));
            Assert.Equal(gid.ToString(CultureInfo.InvariantCulture), Run("id", "-g", "redis"));
            Assert.Equal("2755", Mode($"/run/{run}"));
            d.WaitFor(() => File.Exists($"/run/{run}/redis-server.pid") && File.Exists($"/run/{run}/redis-server.sock"), "redis's pid file and socket");
            Assert.Equal(d.MainPid("redis").ToString(CultureInfo.InvariantCulture), File.ReadAllText($"/run/{run}/redis-server.pid").Trim());
            Assert.Equal((uid, gid), Owner($"/run/{run}/redis-server.sock"));

            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                socket.Connect(new UnixDomainSocketEndPoint($"/run/{run}/redis-server.sock"));
                socket.Send("PING\r\n"u8);
                var buffer = new byte[64];
                int got = socket.Receive(buffer);
                Assert.Equal("+PONG", Encoding.ASCII.GetString(buffer, 0, got).Trim());
            }

            Assert.Equal(0, d.Cli("stop", "redis").Code);
            d.WaitForState("redis", "inactive");
            Assert.False(Directory.Exists($"/run/{run}"), "the RuntimeDirectory, pid file and socket go with the unit");
        }
        finally
        {
            Clean(conf, $"/run/{run}", $"/var/lib/{run}");
        }
    }

    private static string Run(string program, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program, args) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output.Trim();
    }
}
