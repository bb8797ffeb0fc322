using System.Globalization;
using System.Net.Http;
using System.Net.Sockets;
using System.Text.Json;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #14, identity, with the real daemon: DynamicUser's pairs through start, kill -9 and
/// adoption, and stop; RemoveIPC on a non-root service's IPC objects; the real memcached, which
/// starts as root and switches to its own user, checked by `inspect` and the drift metric; a
/// capability the supervisor lacks reported, and one a process gains still found as drift.
/// </summary>
public class IdentityDaemonTests
{
    private const int CapSysResource = 24;

    private static (uint Uid, uint Gid) Ids(int pid)
    {
        var status = File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status");
        uint First(string key) => uint.Parse(status.Single(l => l.StartsWith(key, StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return (First("Uid:"), First("Gid:"));
    }

    private static HashSet<uint> PasswdAndGroupIds() =>
        [.. File.ReadAllLines("/etc/passwd").Concat(File.ReadAllLines("/etc/group")).Select(l => l.Split(':')).Where(f => f.Length > 2)
            .Select(f => uint.TryParse(f[2], CultureInfo.InvariantCulture, out var id) ? id : uint.MaxValue)];

    private static JsonElement DynamicTable(Daemon d) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(d.State, "dynamic-users.json"))).RootElement.GetProperty("users").Clone();

    private const string DynamicSleeper = "[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n[Sandbox]\nDynamicUser = true\n";

    [Fact]
    public async Task Dynamic_users_get_free_uids_of_their_own_that_survive_a_kill_9_and_go_back_when_the_unit_stops()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        d.WriteUnit("dyna", DynamicSleeper);
        d.WriteUnit("dynb", DynamicSleeper);
        d.Start();
        d.WaitForState("dyna", "active", "running");
        d.WaitForState("dynb", "active", "running");
        int pidA = d.MainPid("dyna"), pidB = d.MainPid("dynb");
        var (uidA, gidA) = Ids(pidA);
        var (uidB, _) = Ids(pidB);
        Assert.InRange(uidA, 61184u, 65519u);
        Assert.InRange(uidB, 61184u, 65519u);
        Assert.Equal(uidA, gidA);
        Assert.NotEqual(uidA, uidB);
        Assert.DoesNotContain(uidA, PasswdAndGroupIds());
        Assert.DoesNotContain(uidB, PasswdAndGroupIds());
        Assert.Equal(uidA.ToString(CultureInfo.InvariantCulture), d.Prop("dyna", "UID"));
        Assert.Contains($"User: {uidA}:{uidA} (dynamic)", d.Cli("status", "dyna").Out);
        // The implied protections are in force, checked by inspect against the allocated pair.
        var inspect = d.Cli("inspect", "dyna");
        Assert.True(inspect.Code == 0, inspect.Out + inspect.Err);
        Assert.Contains(inspect.Out.Split('\n'), l => l.Contains("ok   uid", StringComparison.Ordinal) && l.Contains(uidA.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.Contains(inspect.Out.Split('\n'), l => l.Contains("ok   mount /", StringComparison.Ordinal) && l.Contains("declared read-only", StringComparison.Ordinal));

        Assert.Contains($"# DynamicUser: the running daemon gave this unit uid {uidA} and gid {uidA}", d.Cli("show", "dyna", "--runtime-dir", d.Runtime).Out);
        // `exec` runs a command in the unit's sandbox as the pair the daemon gave it.
        var exec = d.Cli("exec", "dyna", "--runtime-dir", d.Runtime, "--cgroup-root", d.CgroupRoot, "--", "/usr/bin/id", "-u");
        Assert.True(exec.Code == 0, exec.Err);
        Assert.Equal(uidA.ToString(CultureInfo.InvariantCulture), exec.Out.Trim());

        // kill -9 of the supervisor: the next one adopts both and finds their pairs in the state directory.
        d.WaitFor(() => File.Exists(Path.Combine(d.State, "state.json")) && File.ReadAllText(Path.Combine(d.State, "state.json")).Contains($"\"mainPid\": {pidA}", StringComparison.Ordinal),
            "the state file to record dyna");
        d.KillOnceRemembered(pidB);
        d.Start();
        d.WaitForState("dyna", "active", "running");
        Assert.Equal(pidA, d.MainPid("dyna"));
        Assert.Equal(uidA.ToString(CultureInfo.InvariantCulture), d.Prop("dyna", "UID"));
        Assert.Equal(uidB.ToString(CultureInfo.InvariantCulture), d.Prop("dynb", "UID"));
        Assert.Equal(uidA, DynamicTable(d).GetProperty("dyna").GetProperty("uid").GetUInt32());
        // A new user whose name hashes to dyna's uid must not get it while the adopted dyna runs as it.
        var collider = Enumerable.Range(0, 1_000_000).Select(i => $"coll{i}").First(n => Runtime.Credentials.DynamicUsers.Candidate(n, 0) == uidA);
        d.WriteUnit("collider", $"[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\nUser = \"{collider}\"\n[Sandbox]\nDynamicUser = true\n");
        Assert.Equal(0, d.Cli("daemon-reload").Code);
        d.WaitForState("collider", "active", "running");
        Assert.NotEqual(uidA, Ids(d.MainPid("collider")).Uid);
        Assert.NotEqual(uidB, Ids(d.MainPid("collider")).Uid);

        // A restart of an adopted unit keeps its user's uid.
        Assert.Equal(0, d.Cli("restart", "dynb").Code);
        d.WaitForState("dynb", "active", "running");
        Assert.Equal(uidB, Ids(d.MainPid("dynb")).Uid);

        Assert.Equal(0, d.Cli("stop", "dyna").Code);
        d.WaitForState("dyna", "inactive", "dead");
        d.WaitFor(() => !DynamicTable(d).TryGetProperty("dyna", out _), "dyna's pair to be released from dynamic-users.json");
        Assert.Equal(uidB, DynamicTable(d).GetProperty("dynb").GetProperty("uid").GetUInt32());
        Assert.Equal(uint.MaxValue.ToString(CultureInfo.InvariantCulture), d.Prop("dyna", "UID"));
        Assert.Contains($"DynamicUser: uid {uidA} of 'dyna' released", d.Cli("logs", "dyna", "--state-dir", d.State).Out);
    }

    /// <summary>A uid no account has, for a service that creates IPC objects (so no one else's are touched).</summary>
    private static uint UnusedUid()
    {
        var used = PasswdAndGroupIds();
        for (uint uid = 3_950_000 + (uint)Random.Shared.Next(10_000); ; uid++)
            if (!used.Contains(uid)) return uid;
    }

    /// <summary>System V objects of a uid from /proc/sysvipc, as "shm 123", "sem 45", "msg 6".</summary>
    private static List<string> SysVObjectsOf(uint uid)
    {
        var result = new List<string>();
        foreach (var kind in new[] { "shm", "sem", "msg" })
        {
            var lines = File.ReadAllLines($"/proc/sysvipc/{kind}");
            var header = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int uidColumn = Array.IndexOf(header, "uid");
            foreach (var f in lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
                if (f[uidColumn] == uid.ToString(CultureInfo.InvariantCulture)) result.Add($"{kind} {f[1]}");
        }
        return result;
    }

    private static string IpcMaker(uint uid, string removeIpc) => $$"""
        [Service]
        ExecStart = ["/bin/sh", "-c", "ipcmk -M 4096 && ipcmk -Q && ipcmk -S 1 && touch /dev/shm/sbx-ipc-{{uid}} && echo made && exec sleep 1000"]
        User = "{{uid}}"
        Group = "{{uid}}"
        [Sandbox]
        {{removeIpc}}
        """;

    [Fact]
    public async Task RemoveIPC_removes_what_a_stopped_service_left_in_System_V_IPC_and_dev_shm_and_without_it_all_stays()
    {
        Daemon.RequireRoot();
        uint keeps = UnusedUid(), removes = keeps + 1;
        await using var d = new Daemon();
        d.WriteUnit("keeps", IpcMaker(keeps, ""));
        d.WriteUnit("removes", IpcMaker(removes, "RemoveIPC = true"));
        try
        {
            d.Start();
            foreach (var (unit, uid) in new[] { ("keeps", keeps), ("removes", removes) })
            {
                d.WaitForState(unit, "active", "running");
                d.WaitFor(() => SysVObjectsOf(uid).Count == 3 && File.Exists($"/dev/shm/sbx-ipc-{uid}"), $"{unit}'s three System V objects and its /dev/shm file");
                Assert.Equal(0, d.Cli("stop", unit).Code);
                d.WaitForState(unit, "inactive", "dead");
            }
            Assert.Equal(3, SysVObjectsOf(keeps).Count);
            Assert.True(File.Exists($"/dev/shm/sbx-ipc-{keeps}"));
            d.WaitFor(() => SysVObjectsOf(removes).Count == 0 && !File.Exists($"/dev/shm/sbx-ipc-{removes}"), "the objects of the RemoveIPC unit to be removed");
            Assert.Contains($"RemoveIPC: removed 1 System V shared memory segment(s), 1 semaphore set(s), 1 message queue(s), 1 POSIX shared memory object(s)",
                d.Cli("logs", "removes", "--state-dir", d.State).Out);
        }
        finally
        {
            // What the unit without RemoveIPC left (and anything a failed run left) is ours to remove.
            foreach (var uid in new[] { keeps, removes })
            {
                foreach (var o in SysVObjectsOf(uid))
                    System.Diagnostics.Process.Start("ipcrm", [o.StartsWith("shm", StringComparison.Ordinal) ? "-m" : o.StartsWith("sem", StringComparison.Ordinal) ? "-s" : "-q", o.Split(' ')[1]])!.WaitForExit();
                File.Delete($"/dev/shm/sbx-ipc-{uid}");
            }
        }
    }

    private static bool Answers(int port)
    {
        try
        {
            using var client = new TcpClient("127.0.0.1", port);
            using var stream = client.GetStream();
            stream.Write("version\r\n"u8);
            var buffer = new byte[64];
            return stream.Read(buffer) > 0 && System.Text.Encoding.ASCII.GetString(buffer).StartsWith("VERSION", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string Scrape(Daemon d)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return http.GetStringAsync($"http://127.0.0.1:{d.MetricsPort}/metrics").Result;
    }

    [Fact]
    public async Task Memcached_switching_to_its_own_user_is_not_drift_and_a_process_gaining_a_capability_is()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/memcached")) { Assert.Skip("memcached is not installed (sudo ./install.sh --test-deps installs it)"); return; }
        if (File.ReadAllLines("/etc/passwd").All(l => !l.StartsWith("memcache:", StringComparison.Ordinal))) { Assert.Skip("the memcache user of the Debian package is missing"); return; }
        int port = Daemon.FreePort();
        await using var d = new Daemon();
        // Debian 12's memcached.service hardening, with memcached started directly.
        d.WriteUnit("memcached", $$"""
            [Service]
            ExecStart = ["/usr/bin/memcached", "-u", "memcache", "-l", "127.0.0.1", "-p", "{{port}}"]
            [Sandbox]
            PrivateTmp = true
            ProtectSystem = "full"
            NoNewPrivileges = true
            PrivateDevices = true
            CapabilityBoundingSet = ["CAP_SETGID", "CAP_SETUID", "CAP_SYS_RESOURCE"]
            ProtectKernelTunables = true
            ProtectControlGroups = true
            """);
        var setuidSleep = Path.Combine(d.Root, "sleep-setuid");
        File.Copy("/bin/sleep", setuidSleep);
        File.SetUnixFileMode(setuidSleep, (UnixFileMode)0xDED); // 04755, owned by root
        File.SetUnixFileMode(d.Root, (UnixFileMode)0x1ED);
        d.WriteUnit("gainer", $"[Service]\nExecStart = [\"{setuidSleep}\", \"1000\"]\nUser = \"nobody\"\n[Sandbox]\nCapabilityBoundingSet = [\"CAP_NET_BIND_SERVICE\"]\n");
        d.Start();
        d.WaitForState("memcached", "active", "running");
        int pid = d.MainPid("memcached");
        d.WaitFor(() => Answers(port), "memcached to answer");
        uint memcache = uint.Parse(File.ReadAllLines("/etc/passwd").First(l => l.StartsWith("memcache:", StringComparison.Ordinal)).Split(':')[2], CultureInfo.InvariantCulture);
        Assert.Equal(memcache, Ids(pid).Uid);

        var (code, output, error) = d.Cli("inspect", "memcached");
        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        var lines = output.Split('\n');
        Assert.DoesNotContain("DIFF", output);
        Assert.Contains(lines, l => l.Contains("ok   CapPrm", StringComparison.Ordinal) && l.Contains("dropped by the process", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("ok   CapBnd", StringComparison.Ordinal));
        d.WaitFor(() => Scrape(d).Contains("supervisor_unit_sandbox_drift{unit=\"memcached\"} 0", StringComparison.Ordinal), "the verifier's verdict on memcached: no drift");

        bool lacksResource = (ulong.Parse(File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim(),
            NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << CapSysResource)) == 0;
        if (lacksResource)
        {
            Assert.Contains(lines, l => l.Contains("lack capability CAP_SYS_RESOURCE", StringComparison.Ordinal));
            Assert.Contains("CAP_SYS_RESOURCE cannot be given on this host", d.Cli("status", "memcached").Out);
        }

        // A process that gains a capability through a setuid-root binary is drift, for inspect and the metric.
        d.WaitForState("gainer", "active", "running");
        var gained = d.Cli("inspect", "gainer");
        Assert.Equal(1, gained.Code);
        Assert.Contains(gained.Out.Split('\n'), l => l.Contains("DIFF CapPrm", StringComparison.Ordinal));
        d.WaitFor(() => Scrape(d).Contains("supervisor_unit_sandbox_drift{unit=\"gainer\"} 1", StringComparison.Ordinal), "the verifier's verdict on gainer: drift");
    }
}
