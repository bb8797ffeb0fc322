using System.Diagnostics;
using System.Globalization;

namespace Supervisor.Integration.Tests;

/// <summary>
/// sd_notify FDSTORE=1 for real (systemd.service(5) FileDescriptorStoreMax=): a python service
/// hands the supervisor a memfd with SCM_RIGHTS and finds the very same file again in its next run.
/// </summary>
public class FdStoreTests
{
    /// <summary>
    /// Each run appends "run pid=… fds=… names=… found=…" to the report. A run that finds no
    /// "memo" among its descriptors stores a new memfd holding "stored by PID" (FDSTORE=1,
    /// FDNAME=memo, with READY=1 in the same message); one that finds it reads it and removes it from
    /// the store (FDSTOREREMOVE=1), so the run after that stores anew.
    /// </summary>
    private const string Memo = """
        import array, os, signal, socket, sys
        n = int(os.environ.get("LISTEN_FDS", "0")) if os.environ.get("LISTEN_PID") == str(os.getpid()) else 0
        names = os.environ.get("LISTEN_FDNAMES", "").split(":") if n else []
        found = [os.pread(3 + i, 100, 0).decode() for i, name in enumerate(names) if name == "memo"]
        with open(sys.argv[1], "a") as f:
            f.write(f"run pid={os.getpid()} fds={n} names={':'.join(names)} found={found}\n")
        addr = os.environ["NOTIFY_SOCKET"]
        if addr.startswith("@"): addr = "\0" + addr[1:]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if found:
            s.sendto(b"FDSTOREREMOVE=1\nFDNAME=memo\nREADY=1", addr)
        else:
            fd = os.memfd_create("memo")
            os.write(fd, f"stored by {os.getpid()}".encode())
            s.sendmsg([b"FDSTORE=1\nFDNAME=memo\nREADY=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))], 0, addr)
        while True: signal.pause()
        """;

    private static (string Report, string Unit) Setup(Daemon d, string extra)
    {
        var dir = Path.Combine(d.Root, "srv");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "memo.py"), Memo);
        var report = Path.Combine(dir, "report");
        d.WriteUnit("memo", $"""
            [Service]
            Type = "notify"
            ExecStart = ["/usr/bin/python3", "{dir}/memo.py", "{report}"]
            Restart = "always"
            RestartSec = "100ms"
            {extra}
            """);
        return (report, "memo");
    }

    private static string LastRun(string report) => File.ReadAllLines(report).Last();

    private static void Kill(int pid) => Process.Start("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    /// <summary>The inode of the file behind /proc/PID/fd/N, as stat -L shows it from outside.</summary>
    private static string Inode(int pid, int fd)
    {
        using var p = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%i", $"/proc/{pid}/fd/{fd}"]) { RedirectStandardOutput = true })!;
        var s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return s;
    }

    /// <summary>The fd number of the memfd named memo in the process, from /proc/PID/fd.</summary>
    private static int MemfdOf(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd").Select(f => (Fd: int.Parse(Path.GetFileName(f), CultureInfo.InvariantCulture), Link: new FileInfo(f).LinkTarget ?? ""))
            .First(x => x.Link.StartsWith("/memfd:memo", StringComparison.Ordinal)).Fd;

    private static int NextRun(Daemon d, int previous)
    {
        d.WaitFor(() => d.Prop("memo", "SubState") == "running" && d.MainPid("memo") != previous, "the next run of memo");
        return d.MainPid("memo");
    }

    [Fact]
    public async Task A_stored_memfd_comes_back_to_the_next_run_across_a_crash_and_a_killed_supervisor_and_FDSTOREREMOVE_drops_it()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var (report, _) = Setup(d, "FileDescriptorStoreMax = 4");
        d.Start();
        d.WaitForState("memo", "active", "running");
        int first = d.MainPid("memo");
        Assert.Contains("fds=0", LastRun(report));
        var inode = Inode(first, MemfdOf(first));

        // The supervisor killed and started again (it adopts the run), then the run crashes.
        d.KillOnceRemembered(first);
        d.Start();
        d.WaitForState("memo", "active", "running");
        Assert.Equal(first, d.MainPid("memo"));
        Kill(first);
        int second = NextRun(d, first);
        Assert.Equal($"run pid={second} fds=1 names=memo found=['stored by {first}']", LastRun(report));
        // The very same file, checked from outside: fd 3 of the new run is the first run's memfd.
        Assert.Equal(inode, Inode(second, 3));

        // The second run removed it (FDSTOREREMOVE=1): a restart on request passes nothing, and the third run stores its own.
        Assert.Equal(0, d.Cli("restart", "memo").Code);
        int third = NextRun(d, second);
        Assert.Equal($"run pid={third} fds=0 names= found=[]", LastRun(report));
    }

    [Fact]
    public async Task Without_FileDescriptorStoreMax_a_store_is_refused_with_systemds_log_line_and_the_next_run_gets_nothing()
    {
        Daemon.RequireRoot();
        await using var d = new Daemon();
        var (report, _) = Setup(d, "");
        d.Start();
        d.WaitForState("memo", "active", "running");
        int first = d.MainPid("memo");
        d.WaitFor(() => d.Cli("logs", "memo", "--state-dir", d.State).Out.Contains("Cannot store more fds than FileDescriptorStoreMax=0, closing remaining."),
            "the refusal in the unit's log");
        Kill(first);
        int second = NextRun(d, first);
        Assert.Equal($"run pid={second} fds=0 names= found=[]", LastRun(report));
    }
}
