using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Issue #16 item 3 on a real Debian daemon: redis-server with Debian's hardening runs with
/// SystemCallFilterMode = "learn" (and no SystemCallFilter, so everything beyond @default is
/// recorded) while it serves and saves; `security --suggest` turns that into a drop-in; saved
/// beside the unit it restarts redis under the suggested filter in enforce mode, redis still
/// serves and saves, and a call outside the suggestion fails with EPERM inside the unit's sandbox.
/// </summary>
[Collection("real daemons")]
public class LearnSuggestDaemonTests
{
    /// <summary>A static probe (no loader, so almost no calls of its own): keyctl and ptrace, which redis never makes, and socket, which it does; prints each errno (0: the call worked).</summary>
    private const string ProbeSource = """
        #include <stdio.h>
        #include <errno.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        static int err(long r) { return r < 0 ? errno : 0; }
        int main(void) {
            char out[160];
            int keyctl = err(syscall(SYS_keyctl, 0, -3, 0, 0, 0));
            int ptrace = err(syscall(SYS_ptrace, 0x4206, 1, 0, 0));
            int sock = err(syscall(SYS_socket, 2, 1, 0));
            int n = snprintf(out, sizeof out, "keyctl=%d ptrace=%d socket=%d\n", keyctl, ptrace, sock);
            return write(1, out, n) == n ? 0 : 3;
        }
        """;

    [Fact]
    public async Task Redis_learned_then_suggested_filter_serves_saves_and_denies_a_call_outside_it()
    {
        Daemon.RequireRoot();
        if (!File.Exists("/usr/bin/redis-server")) Assert.Skip("redis-server is not installed (Debian package redis-server; install.sh --test-deps installs it)");
        var (dir, port) = RealDaemonTests.RedisDataDir("learn", "3600 1");
        try
        {
            var probe = BuildProbe(dir);
            RealDaemonTests.Run("chown", "-R", "redis:redis", dir);
            await using var d = new Daemon();
            d.WriteUnit("redis", RealDaemonTests.RedisUnit(dir, "SystemCallFilterMode = \"learn\"", $", \"{probe}\""));
            d.Start();
            d.WaitForState("redis", "active", "running");

            Serve(d, dir, port, "learned");
            var learned = Path.Combine(d.State, "seccomp-learned", "redis.json");
            d.WaitFor(() => LearnedCalls(learned) is var c && c.Contains("rename") && c.Contains("wait4") && c.Contains("accept4"), "BGSAVE's rename and wait4 and the accept4 in the learned calls");
            Assert.Contains("keyctl=0 ", Probe(d, probe)); // learning allows every call: the probe's keyctl works

            var (code, dropIn, err) = d.Cli("security", "--suggest", "redis");
            Assert.True(code == 0, $"security --suggest exited {code}:\n{dropIn}\n{err}");
            TestContext.Current.TestOutputHelper?.WriteLine(dropIn); // the README's example comes from here
            Assert.Contains($"# Save as {d.Units}/redis.toml.d/50-suggested.toml", dropIn);
            Assert.Contains("SystemCallErrorNumber = \"EPERM\"", dropIn);
            Assert.Contains("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"", dropIn);
            Assert.Contains("RestrictNamespaces = true", dropIn);
            Assert.DoesNotContain("\"keyctl\"", dropIn);
            var json = JsonDocument.Parse(d.Cli("security", "--suggest", "redis", "--json").Out).RootElement;
            Assert.Equal(dropIn, json.GetProperty("toml").GetString());

            int learning = d.MainPid("redis");
            Directory.CreateDirectory(Path.Combine(d.Units, "redis.toml.d"));
            File.WriteAllText(Path.Combine(d.Units, "redis.toml.d", "50-suggested.toml"), dropIn);
            try
            {
                d.WaitFor(() => d.Prop("redis", "ActiveState") == "active" && d.Prop("redis", "SubState") == "running" && d.MainPid("redis") != learning,
                    "redis restarted by the drop-in");
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{e.Message}\nthe drop-in:\n{dropIn}\nredis's log:\n{d.Cli("logs", "redis", "--state-dir", d.State, "-n", "80").Out}", e);
            }

            Assert.Contains("Seccomp:\t2", File.ReadAllLines($"/proc/{d.MainPid("redis")}/status"));
            Serve(d, dir, port, "enforced");
            Assert.Contains("keyctl=1 ptrace=1 socket=0", Probe(d, probe));
            var score = d.Cli("security", "redis").Out;
            Assert.Matches(@"pass learned filter \(security --suggest\)", score);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>PING, SET, GET, then a BGSAVE (a fork, a write, a rename) to a fresh dump file.</summary>
    private static void Serve(Daemon d, string dir, int port, string value)
    {
        File.Delete($"{dir}/dump.rdb");
        Assert.Equal("+PONG", RealDaemonTests.Ask(port, "PING"));
        Assert.Equal("+OK", RealDaemonTests.Ask(port, $"SET learn-key {value}"));
        Assert.Equal($"${value.Length}\n{value}", AskTwoLines(port, "GET learn-key"));
        Assert.Equal("+Background saving started", RealDaemonTests.Ask(port, "BGSAVE"));
        d.WaitFor(() => File.Exists($"{dir}/dump.rdb"), "the BGSAVE's dump file");
        d.WaitFor(() => Encoding.Latin1.GetString(File.ReadAllBytes($"{dir}/dump.rdb")).Contains(value, StringComparison.Ordinal), "the value in the dump");
    }

    private static string AskTwoLines(int port, string command)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(command + "\r\n"));
        var reader = new StreamReader(stream, Encoding.ASCII);
        return reader.ReadLine() + "\n" + reader.ReadLine();
    }

    private static HashSet<string> LearnedCalls(string file)
    {
        try
        {
            return [.. JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("calls").EnumerateArray().Select(e => e.GetString()!)];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return [];
        }
    }

    private static string BuildProbe(string dir)
    {
        File.WriteAllText($"{dir}/probe.c", ProbeSource);
        RealDaemonTests.Run("gcc", "-static", "-O1", "-o", $"{dir}/probe", $"{dir}/probe.c");
        return $"{dir}/probe";
    }

    /// <summary>The probe run in the unit's sandbox (`supervisor exec`): its output line.</summary>
    private static string Probe(Daemon d, string probe)
    {
        var (code, output, error) = d.Cli("exec", "redis", "--units", d.Units, "--cgroup-root", d.CgroupRoot, "--", probe);
        Assert.True(code == 0, $"the probe exited {code}:\n{output}\n{error}");
        return output;
    }
}
