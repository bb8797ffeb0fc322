using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>The filesystem view: read-only paths, inaccessible paths, tmpfs, minimal /dev, proc, pivot_root.</summary>
public class FilesystemTests
{
    private static ExecPlan InMountNs(params string[] args) => Probe.Plan(args) with { Namespaces = NamespaceFlags.Mount };

    [Fact]
    public void Read_only_usr_shows_in_mountinfo_and_writing_under_it_fails()
    {
        Host.RequireRoot();
        var target = "/usr/.sbx-probe-" + Guid.NewGuid().ToString("N");
        var plan = InMountNs("write", target);
        Assert.True(Runner.Run(plan).Ok, "writing under /usr works without the setting, so the test can fail");
        var ro = plan with { Mounts = [new RemountMount("/usr", ReadOnly: true)] };
        Assert.Equal("fail 30", Runner.Run(ro).Line); // EROFS
        Assert.False(File.Exists(target));
        using var run = new Runner.Running(ro);
        var usr = File.ReadAllLines($"/proc/{run.ServicePid}/mountinfo").Select(l => l.Split(' ')).Last(f => f[4] == "/usr");
        Assert.Contains("ro", usr[5].Split(','));
        var line = IsolationCheck.Compare(ro, IsolationState.Read(run.ServicePid)).Single(l => l.Property == "mount /usr");
        Assert.Equal(CheckResult.Match, line.Result);
        // The host's own /usr stays writable: nothing leaked out of the private namespace.
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')), f => f[4] == "/usr" && f[5].Split(',').Contains("ro"));
    }

    [Fact]
    public void Mounts_never_propagate_back_to_the_host_even_from_a_shared_mount()
    {
        Host.RequireRoot();
        // This host's / is private; build a shared mount so a leak would be visible.
        using var dir = new TempDir();
        Host.Run("mount", "-t", "tmpfs", "sbx-shared", dir.Path);
        try
        {
            Host.Run("mount", "--make-shared", dir.Path);
            Directory.CreateDirectory(dir.Combine("sub"));
            var plan = InMountNs("exists", "/") with { Mounts = [new TmpfsMount(dir.Combine("sub"))] };
            Assert.True(Runner.Run(plan).Ok);
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == dir.Combine("sub"));
        }
        finally
        {
            Host.Run("umount", "-R", dir.Path);
        }
    }

    [Fact]
    public void Strict_read_only_root_with_a_writable_exception()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        var plan = InMountNs("write", dir.Combine("file")) with
        {
            Mounts = [new RemountMount("/", ReadOnly: true), new BindMount(dir.Path, dir.Path, ReadOnly: false)],
        };
        Assert.True(Runner.Run(plan).Ok);
        Assert.Equal("fail 30", Runner.Run(plan with { Argv = ["probe", "write", "/etc/.sbx-probe-" + Guid.NewGuid().ToString("N")] }).Line);
    }

    [Fact]
    public void Inaccessible_directory_hides_its_contents()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.Combine("secret"));
        File.WriteAllText(dir.Combine("secret", "key"), "s3cret");
        var plan = InMountNs("read", dir.Combine("secret", "key"));
        Assert.True(Runner.Run(plan).Ok, "readable without the setting, so the test can fail");
        Assert.Equal("fail 2", Runner.Run(plan with { Mounts = [new InaccessibleMount(dir.Combine("secret"))] }).Line);
    }

    [Fact]
    public void Inaccessible_file_cannot_be_opened_by_a_non_root_service()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        var file = dir.Combine("shared");
        File.WriteAllText(file, "data");
        File.SetUnixFileMode(file, (UnixFileMode)0x1A4); // 0644
        var plan = InMountNs("read", file) with { Identity = new Identity(65534, 65534, []) };
        Assert.True(Runner.Run(plan).Ok, "readable without the setting, so the test can fail");
        Assert.Equal("fail 13", Runner.Run(plan with { Mounts = [new InaccessibleMount(file)] }).Line); // EACCES
    }

    [Fact]
    public void Optional_operations_on_missing_paths_are_skipped_and_required_ones_fail_with_the_operation_named()
    {
        Host.RequireRoot();
        Assert.True(Runner.Run(InMountNs("exists", "/") with { Mounts = [new InaccessibleMount("/nonexistent-sbx", Optional: true)] }).Ok);
        var e = Assert.Throws<SandboxSetupException>(() =>
            Runner.Run(InMountNs("exists", "/") with { Mounts = [new BindMount("/nonexistent-sbx", "/mnt", ReadOnly: true)] }));
        Assert.Equal(SetupStep.Mount, e.Step);
        Assert.Equal("test: cannot apply mount operation #0 (bind '/nonexistent-sbx' on '/mnt' read-only): No such file or directory", e.Message);
        LauncherTests.AssertNoChildren();
    }

    [Fact]
    public void Private_tmp_hides_the_host_tmp()
    {
        Host.RequireRoot();
        using var dir = new TempDir(); // lives under the host's /tmp
        var plan = InMountNs("exists", dir.Path);
        Assert.True(Runner.Run(plan).Ok);
        Assert.Equal("fail 2", Runner.Run(plan with { Mounts = [new TmpfsMount("/tmp")] }).Line);
    }

    [Fact]
    public void Minimal_dev_has_only_the_harmless_nodes()
    {
        Host.RequireRoot();
        var disk = Directory.EnumerateFileSystemEntries("/dev").First(p => Path.GetFileName(p).StartsWith("vd", StringComparison.Ordinal) ||
            Path.GetFileName(p).StartsWith("sd", StringComparison.Ordinal) || Path.GetFileName(p).StartsWith("nvme", StringComparison.Ordinal) ||
            Path.GetFileName(p) == "mem" || Path.GetFileName(p) == "kmsg");
        var plan = InMountNs("exists", disk);
        Assert.True(Runner.Run(plan).Ok, $"{disk} is readable without the setting, so the test can fail");
        var dev = plan with { Mounts = [new MinimalDevMount("/dev")] };
        Assert.Equal("fail 2", Runner.Run(dev).Line);
        foreach (var node in new[] { "null", "zero", "full", "random", "urandom", "tty", "pts/ptmx", "shm", "fd" })
            Assert.True(Runner.Run(dev with { Argv = ["probe", "exists", "/dev/" + node] }).Ok, $"/dev/{node} should exist");
        Assert.True(Runner.Run(dev with { Argv = ["probe", "read", "/dev/urandom"] }).Ok);
    }

    [Fact]
    public void Proc_with_hidepid_invisible_hides_other_users_processes()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("exists", "/proc/1") with
        {
            Namespaces = NamespaceFlags.Mount | NamespaceFlags.Pid,
            Identity = new Identity(65534, 65534, []),
            Mounts = [new ProcMount("/proc")],
        };
        Assert.True(Runner.Run(plan).Ok, "the namespace's root-owned init is visible without hidepid, so the test can fail");
        Assert.Equal("fail 2", Runner.Run(plan with { Mounts = [new ProcMount("/proc", "hidepid=invisible")] }).Line);
    }

    [Fact]
    public void Read_only_proc_sys_blocks_kernel_tunables()
    {
        Host.RequireRoot();
        // Opening for write is enough to show it; nothing is written.
        var plan = InMountNs("write", "/proc/sys/kernel/.sbx-none");
        var ro = plan with { Mounts = [new RemountMount("/proc/sys", ReadOnly: true)] };
        using var run = new Runner.Running(ro);
        Assert.Contains(File.ReadAllLines($"/proc/{run.ServicePid}/mountinfo").Select(l => l.Split(' ')),
            f => f[4] == "/proc/sys" && f[5].Split(',').Contains("ro"));
    }

    [Fact]
    public void Pivot_root_gives_a_new_root_that_the_chroot_escape_cannot_leave()
    {
        Host.RequireRoot();
        using var root = NewRoot();
        const string marker = "/etc/debian_version"; // on the host, not in the new root
        Assert.True(File.Exists(marker));
        // The attack works against a plain chroot, so the test can fail.
        var chrooted = Host.Run("chroot", root.Path, "/bin/probe", "chroot-escape", marker).Trim();
        Assert.Equal("ok", chrooted);
        var plan = new ExecPlan
        {
            Path = "/bin/probe",
            Argv = ["probe", "chroot-escape", marker],
            Namespaces = NamespaceFlags.Mount,
            Mounts = [new PivotRootOperation(root.Path)],
        };
        Assert.Equal("fail 2", Runner.Run(plan).Line);
        using var run = new Runner.Running(plan);
        var s = IsolationState.Read(run.ServicePid);
        Assert.False(s.RootIsHostRoot);
        Assert.Equal(CheckResult.Match, IsolationCheck.Compare(plan, s).Single(l => l.Property == "root").Result);
        // The old root is detached: only the new root's own mount remains.
        Assert.Single(s.Mounts);
    }

    internal static TempDir NewRoot()
    {
        var root = new TempDir();
        Directory.CreateDirectory(root.Combine("bin"));
        Directory.CreateDirectory(root.Combine("proc"));
        Directory.CreateDirectory(root.Combine("dev"));
        File.Copy(Probe.Path, root.Combine("bin", "probe"));
        File.SetUnixFileMode(root.Combine("bin", "probe"), (UnixFileMode)0x1ED);
        return root;
    }
}
