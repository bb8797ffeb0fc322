using System.Globalization;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// systemd's namespace directives and the view around them, each tried from inside a unit that
/// declares it and from one that does not: the same probe must fail with it and work without.
/// </summary>
public class NamespaceDirectiveTests
{
    private static string Unique => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void PrivateNetwork_leaves_only_a_loopback_interface_and_brings_it_up()
    {
        Host.RequireRoot();
        Assert.Equal("lo:up", NsProbe.Run("PrivateNetwork = true", "ifaces").Line);
        var host = NsProbe.Run("", "ifaces").Line;
        Assert.NotEqual("lo:up", host); // the host has more than lo, so the test can fail
        Assert.Equal("lo:up", NsProbe.Run("PrivateNetwork = \"yes\"", "ifaces").Line); // systemd's spelling
    }

    [Fact]
    public void PrivateIPC_puts_the_hosts_shared_memory_and_message_queues_out_of_reach()
    {
        Host.RequireRoot();
        var key = "0x5b" + Unique[..6];
        var queue = "/sbx-ns-" + Unique;
        Assert.True(NsProbe.Run("", "shm", "create", key).Ok);
        Assert.True(NsProbe.Run("", "mq", "create", queue).Ok);
        try
        {
            Assert.Equal("fail 2", NsProbe.Run("PrivateIPC = true", "shm", "open", key).Line); // ENOENT
            Assert.Equal("fail 2", NsProbe.Run("PrivateIPC = true", "mq", "open", queue).Line);
            Assert.True(NsProbe.Run("", "shm", "open", key).Ok, "the host's segment is reachable without PrivateIPC");
            Assert.True(NsProbe.Run("", "mq", "open", queue).Ok, "the host's queue is reachable without PrivateIPC");
        }
        finally
        {
            NsProbe.Run("", "shm", "remove", key);
            NsProbe.Run("", "mq", "unlink", queue);
        }
    }

    [Fact]
    public void PrivateIPC_mounts_its_own_mqueue_on_the_private_dev()
    {
        Host.RequireRoot();
        Assert.True(NsProbe.Run("PrivateIPC = true\nPrivateDevices = true", "exists", "/dev/mqueue").Ok);
        Assert.Equal("fail 2", NsProbe.Run("PrivateDevices = true", "exists", "/dev/mqueue").Line);
    }

    [Fact]
    public void PrivateMounts_keeps_a_mount_the_service_makes_away_from_the_host()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        bool OnHost() => File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == dir.Path);
        try
        {
            Assert.True(NsProbe.Run("PrivateMounts = true", "mount-tmpfs", dir.Path).Ok);
            Assert.False(OnHost(), "the service's mount reached the host");
            // Without it the same mount lands on the host (taken away again below).
            Assert.True(NsProbe.Run("", "mount-tmpfs", dir.Path).Ok);
            Assert.True(OnHost());
        }
        finally
        {
            while (OnHost())
                Host.Run("umount", dir.Path);
        }
    }

    [Fact]
    public void PrivatePIDs_makes_the_service_pid_2_with_a_proc_that_shows_no_host_process()
    {
        Host.RequireRoot();
        var self = $"/proc/{Environment.ProcessId}";
        Assert.Equal("2", NsProbe.Run("PrivatePIDs = true", "pid").Line);
        Assert.Equal("fail 2", NsProbe.Run("PrivatePIDs = true", "exists", self).Line);
        Assert.NotEqual("2", NsProbe.Run("", "pid").Line);
        Assert.True(NsProbe.Run("", "exists", self).Ok);
    }

    [Fact]
    public void PrivateUsers_maps_exactly_root_the_service_user_and_nobody_each_to_itself()
    {
        Host.RequireRoot();
        var (uid, gid) = Ids("www-data");
        Assert.Equal($"0 0 1;{uid} {uid} 1;65534 65534 1", NsProbe.RunAs("www-data", "PrivateUsers = true", "idmap", "uid_map").Line);
        Assert.Equal($"0 0 1;{gid} {gid} 1;65534 65534 1", NsProbe.RunAs("www-data", "PrivateUsers = true", "idmap", "gid_map").Line);
        Assert.Equal("0 0 4294967295", NsProbe.RunAs("www-data", "", "idmap", "uid_map").Line);
    }

    [Fact]
    public void PrivateUsers_keeps_files_of_the_service_user_readable_where_the_shifted_mapping_cannot()
    {
        Host.RequireRoot();
        var (uid, gid) = Ids("www-data");
        using var dir = new TempDir("/run");
        var secret = dir.Combine("secret");
        File.WriteAllText(secret, "x");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Host.Run("chown", $"{uid}:{gid}", secret);
        Assert.True(NsProbe.RunAs("www-data", "PrivateUsers = true", "read", secret).Ok);
        // Namespaces = ["user"] shifts www-data to host uid 100033, which does not own the file.
        Assert.Equal("fail 13", NsProbe.RunAs("www-data", "Namespaces = [\"user\"]", "read", secret).Line);
    }

    [Fact]
    public void PrivateUsers_works_together_with_PrivateDevices_ProtectProc_and_ProtectKernelTunables()
    {
        Host.RequireRoot();
        const string Sandbox = "PrivateUsers = true\nPrivateDevices = true\nProtectKernelTunables = true\nProtectSystem = \"strict\"";
        Assert.True(NsProbe.RunAs("www-data", Sandbox, "devnull").Ok);
        // hidepid=invisible in a user namespace without its own pid namespace: root's pid 1 is hidden.
        Assert.Equal("fail 2", NsProbe.RunAs("www-data", Sandbox + "\nProtectProc = \"invisible\"", "exists", "/proc/1").Line);
        Assert.True(NsProbe.RunAs("www-data", Sandbox, "exists", "/proc/1").Ok);
        Assert.Equal("fail 30", NsProbe.RunAs("www-data", Sandbox, "write", "/var/sbx-" + Unique).Line); // EROFS, not EPERM
    }

    [Fact]
    public void The_shifted_user_namespace_of_Namespaces_user_also_builds_a_private_dev()
    {
        Host.RequireRoot();
        // Before: "cannot apply mount operation #0 (mount a minimal /dev on '/dev'): Value too large
        // for defined data type" — the helper built the view with host ids the namespace does not map.
        Assert.True(NsProbe.Run("Namespaces = [\"user\"]\nPrivateDevices = true", "devnull").Ok);
        Assert.Equal("0 100000 65536", NsProbe.Run("Namespaces = [\"user\"]\nPrivateDevices = true", "idmap", "uid_map").Line);
    }

    [Fact]
    public void NoExecPaths_refuse_exec_with_EACCES_and_ExecPaths_allow_it_again_below()
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        Directory.CreateDirectory(dir.Combine("bin", "allowed"));
        File.Copy(NsProbe.Path, dir.Combine("bin", "p"));
        File.Copy(NsProbe.Path, dir.Combine("bin", "allowed", "p"));
        var noexec = $"NoExecPaths = [\"{dir.Path}\"]";
        Assert.True(NsProbe.Run("", "exec", dir.Combine("bin", "p")).Ok, "exec works without NoExecPaths, so the test can fail");
        Assert.Equal("fail 13", NsProbe.Run(noexec, "exec", dir.Combine("bin", "p")).Line);
        var reallowed = noexec + $"\nExecPaths = [\"{dir.Combine("bin", "allowed")}\"]";
        Assert.True(NsProbe.Run(reallowed, "exec", dir.Combine("bin", "allowed", "p")).Ok);
        Assert.Equal("fail 13", NsProbe.Run(reallowed, "exec", dir.Combine("bin", "p")).Line);
    }

    [Fact]
    public void TemporaryFileSystem_is_empty_and_read_only_with_ro()
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        File.WriteAllText(dir.Combine("kept"), "x");
        var tmpfs = $"TemporaryFileSystem = [\"{dir.Path}:ro\"]";
        Assert.Equal("fail 2", NsProbe.Run(tmpfs, "exists", dir.Combine("kept")).Line);
        Assert.Equal("fail 30", NsProbe.Run(tmpfs, "write", dir.Combine("new")).Line); // EROFS
        Assert.True(NsProbe.Run($"TemporaryFileSystem = [\"{dir.Path}\"]", "write", dir.Combine("new")).Ok, "without ro it is writable");
        Assert.True(NsProbe.Run("", "exists", dir.Combine("kept")).Ok);
        Assert.False(File.Exists(dir.Combine("new")), "the writable tmpfs was the service's own");
    }

    [Fact]
    public void Binds_into_the_private_tmp_get_their_mount_point_created_there_and_not_on_the_host()
    {
        Host.RequireRoot();
        using var src = new TempDir("/run");
        File.WriteAllText(src.Combine("f"), "x");
        var inTmp = "/tmp/sbx-bind-" + Unique;
        var sandbox = $"PrivateTmp = true\nBindReadOnlyPaths = [\"{src.Path}:{inTmp}/data\", \"/etc/hostname:{inTmp}/hostname\"]";
        Assert.True(NsProbe.Run(sandbox, "read", $"{inTmp}/data/f").Ok);
        Assert.True(NsProbe.Run(sandbox, "read", $"{inTmp}/hostname").Ok);
        Assert.Equal("fail 30", NsProbe.Run(sandbox, "write", $"{inTmp}/data/new").Line); // the bind is read-only
        Assert.False(Directory.Exists(inTmp), "the mount point was made on the host");
    }

    [Fact]
    public void A_bind_into_an_existing_directory_gets_its_mount_point_made_before_the_view_is_read_only()
    {
        Host.RequireRoot();
        // Debian's haproxy: BindReadOnlyPaths=/dev/log:/var/lib/haproxy/dev/log, with only dev/ shipped.
        using var dir = new TempDir("/run");
        var sandbox = $"ProtectSystem = \"strict\"\nBindReadOnlyPaths = [\"/etc/hostname:{dir.Combine("log")}\"]";
        Assert.True(NsProbe.Run(sandbox, "read", dir.Combine("log")).Ok);
        Assert.True(File.Exists(dir.Combine("log")), "the mount point is an empty file in the directory, as systemd makes it");
    }

    [Fact]
    public void Inspect_reads_the_id_maps_noexec_and_temporary_file_systems_from_proc()
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        Directory.CreateDirectory(dir.Combine("t"));
        var plan = NsProbe.Compile($"PrivateUsers = true\nPrivateTmp = true\nNoExecPaths = [\"{dir.Path}\", \"/tmp\"]\nTemporaryFileSystem = [\"{dir.Combine("t")}:ro,noexec\"]",
            "User = \"www-data\"", ["sleep"]);
        using var run = new Runner.Running(plan);
        var lines = IsolationCheck.Compare(plan, IsolationState.Read(run.ServicePid));
        var (uid, _) = Ids("www-data");
        var uidMap = lines.Single(l => l.Property == "uid_map");
        Assert.Equal($"0 0 1; {uid} {uid} 1; 65534 65534 1", uidMap.Found);
        Assert.Equal(CheckResult.Match, uidMap.Result);
        Assert.Equal(("noexec", CheckResult.Match), lines.Single(l => l.Property == $"exec {dir.Path}") is var e ? (e.Found, e.Result) : default);
        Assert.Equal(("tmpfs read-only noexec", CheckResult.Match), lines.Single(l => l.Property == $"tmpfs {dir.Combine("t")}") is var t ? (t.Found, t.Result) : default);
        // NoExecPaths reaches the private /tmp mounted before it: declared and found agree.
        Assert.Equal(("tmpfs read-write noexec", CheckResult.Match), lines.Single(l => l.Property == "tmpfs /tmp") is var p ? (p.Found, p.Result) : default);
        Assert.All(lines, l => Assert.NotEqual(CheckResult.Mismatch, l.Result));
    }

    private static (uint Uid, uint Gid) Ids(string user)
    {
        var f = File.ReadAllLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f[0] == user);
        if (f is null)
            Assert.Skip($"needs the user '{user}' (Debian's www-data) on this host");
        return (uint.Parse(f[2], CultureInfo.InvariantCulture), uint.Parse(f[3], CultureInfo.InvariantCulture));
    }
}
