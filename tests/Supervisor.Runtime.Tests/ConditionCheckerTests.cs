using System.Diagnostics;
using Supervisor.Runtime.Conditions;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>Each condition kind against real files and this process's real identity and host.</summary>
public sealed class ConditionCheckerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("supervisor-cond-").FullName;
    private readonly ConditionChecker _checker = new();

    public void Dispose() => Directory.Delete(_dir, true);

    private bool Holds(string kind, string value) => _checker.Holds(UnitCondition.Parse(kind, false, value));

    private string P(string name) => Path.Combine(_dir, name);

    private static string Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"{program} exited {p.ExitCode}: {p.StandardError.ReadToEnd()}");
    }

    [Fact]
    public void Path_kinds_read_the_file_system()
    {
        File.WriteAllText(P("full"), "x");
        File.WriteAllText(P("empty"), "");
        File.CreateSymbolicLink(P("link"), P("full"));
        File.CreateSymbolicLink(P("dangling"), P("nothing"));
        Directory.CreateDirectory(P("d"));
        Directory.CreateDirectory(P("hidden-only"));
        File.WriteAllText(P("hidden-only/.x"), "");
        File.WriteAllText(P("hidden-only/y~"), "");
        File.WriteAllText(P("d/a.conf"), "");
        File.WriteAllText(P("exe"), "");
        File.SetUnixFileMode(P("exe"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        Assert.True(Holds("PathExists", P("full")));
        Assert.False(Holds("PathExists", P("nothing")));
        Assert.False(Holds("PathExists", P("dangling")));
        Assert.True(Holds("PathExists", "!" + P("nothing")));
        Assert.True(Holds("PathExistsGlob", P("d/*.conf")));
        Assert.False(Holds("PathExistsGlob", P("d/*.txt")));
        Assert.True(Holds("PathIsDirectory", P("d")));
        Assert.False(Holds("PathIsDirectory", P("full")));
        Assert.True(Holds("PathIsSymbolicLink", P("link")));
        Assert.False(Holds("PathIsSymbolicLink", P("full")));
        Assert.True(Holds("DirectoryNotEmpty", P("d")));
        Assert.False(Holds("DirectoryNotEmpty", P("hidden-only")));
        Assert.True(Holds("FileNotEmpty", P("full")));
        Assert.True(Holds("FileNotEmpty", P("link")));
        Assert.False(Holds("FileNotEmpty", P("empty")));
        Assert.True(Holds("FileIsExecutable", P("exe")));
        Assert.False(Holds("FileIsExecutable", P("full")));
        Assert.False(Holds("FileIsExecutable", P("d")));
    }

    [Fact]
    public void PathIsMountPoint_and_PathIsReadWrite_follow_a_tmpfs_mounted_here()
    {
        if (Environment.UserName != "root") Assert.Skip("mounting a tmpfs needs root");
        var m = P("mnt");
        Directory.CreateDirectory(m);
        Assert.False(Holds("PathIsMountPoint", m));
        try
        {
            Run("/bin/mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", m);
        }
        catch (InvalidOperationException e)
        {
            Assert.Skip($"cannot mount a tmpfs here: {e.Message}");
        }
        try
        {
            Assert.True(Holds("PathIsMountPoint", m));
            Assert.True(Holds("PathIsReadWrite", m));
            Run("/bin/mount", "-o", "remount,ro", m);
            Assert.False(Holds("PathIsReadWrite", m));
            Assert.True(Holds("PathIsReadWrite", _dir));
        }
        finally
        {
            Run("/bin/umount", m);
        }
        Assert.False(Holds("PathIsMountPoint", m));
    }

    [Fact]
    public void User_and_Group_compare_with_this_process()
    {
        var uid = Run("/usr/bin/id", "-u");
        var gid = Run("/usr/bin/id", "-g");
        var name = Run("/usr/bin/id", "-un");
        Assert.True(Holds("User", uid));
        Assert.True(Holds("User", name));
        Assert.False(Holds("User", "4242"));
        Assert.Equal(int.Parse(uid) < 1000, Holds("User", "@system"));
        Assert.True(Holds("Group", gid));
        Assert.True(Holds("Group", Run("/usr/bin/id", "-gn")));
        Assert.False(Holds("Group", "4243"));
    }

    [Fact]
    public void KernelVersion_Architecture_Host_Environment_and_the_command_line_read_this_host()
    {
        var release = Run("/bin/uname", "-r");
        var major = int.Parse(release.Split('.')[0]);
        Assert.True(Holds("KernelVersion", $">={major}.0"));
        Assert.False(Holds("KernelVersion", $">={major + 1}.0"));
        Assert.True(Holds("KernelVersion", $">={major}.0 <{major + 1}"));
        Assert.True(Holds("KernelVersion", $"{major}.*"));
        var arch = Run("/bin/uname", "-m") switch { "x86_64" => "x86-64", "aarch64" => "arm64", "i686" => "x86", var m => m };
        Assert.True(Holds("Architecture", arch));
        Assert.True(Holds("Architecture", "native"));
        Assert.False(Holds("Architecture", arch == "arm64" ? "x86-64" : "arm64"));
        var host = Run("/bin/hostname");
        Assert.True(Holds("Host", host));
        Assert.True(Holds("Host", host[..1] + "*"));
        Assert.False(Holds("Host", "not-" + host));
        Environment.SetEnvironmentVariable("SUPERVISOR_COND_TEST", "yes");
        Assert.True(Holds("Environment", "SUPERVISOR_COND_TEST"));
        Assert.True(Holds("Environment", "SUPERVISOR_COND_TEST=yes"));
        Assert.False(Holds("Environment", "SUPERVISOR_COND_TEST=no"));
        var first = File.ReadAllText("/proc/cmdline").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is not null) Assert.True(Holds("KernelCommandLine", first));
        Assert.False(Holds("KernelCommandLine", "supervisor.no-such-word"));
    }

    [Fact]
    public void FirstBoot_reads_the_marker_and_the_machine_id()
    {
        var id = P("machine-id");
        var marker = P("first-boot");
        Assert.True(UpdateStamps.FirstBoot(id, marker));                  // no machine ID at all
        File.WriteAllText(id, "uninitialized\n");
        Assert.True(UpdateStamps.FirstBoot(id, marker));
        File.WriteAllText(id, "");
        Assert.True(UpdateStamps.FirstBoot(id, marker));
        File.WriteAllText(id, "0123456789abcdef0123456789abcdef\n");
        Assert.False(UpdateStamps.FirstBoot(id, marker));
        File.WriteAllText(marker, "");
        Assert.True(UpdateStamps.FirstBoot(id, marker));                  // systemd as PID 1 said so
    }

    [Fact]
    public void NeedsUpdate_compares_the_stamp_with_the_usr_directory_to_the_nanosecond()
    {
        var usr = P("usr");
        var etc = P("etc");
        Directory.CreateDirectory(usr);
        Directory.CreateDirectory(etc);
        var stamp = Path.Combine(etc, ".updated");
        Assert.True(UpdateStamps.NeedsUpdate(etc, usr));                  // no stamp: never updated
        var t = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Directory.SetLastWriteTimeUtc(usr, t);
        File.WriteAllText(stamp, "");
        File.SetLastWriteTimeUtc(stamp, t.AddSeconds(1));
        Assert.False(UpdateStamps.NeedsUpdate(etc, usr));                 // updated after /usr changed
        Directory.SetLastWriteTimeUtc(usr, t.AddSeconds(2));
        Assert.True(UpdateStamps.NeedsUpdate(etc, usr));                  // /usr changed since
        // Same second: nanoseconds decide; a stamp without them (0) carries TIMESTAMP_NSEC.
        Directory.SetLastWriteTimeUtc(usr, t.AddTicks(5000));             // 500 µs
        File.SetLastWriteTimeUtc(stamp, t);
        File.WriteAllText(stamp, $"TIMESTAMP_NSEC={new DateTimeOffset(t).ToUnixTimeSeconds() * 1_000_000_000L + 600_000}\n");
        File.SetLastWriteTimeUtc(stamp, t);
        Assert.False(UpdateStamps.NeedsUpdate(etc, usr));                 // stamp at 600 µs, /usr at 500 µs
        File.WriteAllText(stamp, $"TIMESTAMP_NSEC={new DateTimeOffset(t).ToUnixTimeSeconds() * 1_000_000_000L + 400_000}\n");
        File.SetLastWriteTimeUtc(stamp, t);
        Assert.True(UpdateStamps.NeedsUpdate(etc, usr));
    }

    [Fact]
    public void Credential_looks_in_the_supervisors_own_credentials_directory()
    {
        var creds = P("creds");
        Directory.CreateDirectory(creds);
        File.WriteAllText(Path.Combine(creds, "db-password"), "x");
        var before = Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
        try
        {
            Environment.SetEnvironmentVariable("CREDENTIALS_DIRECTORY", creds);
            Assert.True(Holds("Credential", "db-password"));
            Assert.False(Holds("Credential", "tls.key"));
            Assert.True(Holds("Credential", "!tls.key"));
            Assert.False(Holds("Credential", "../creds/db-password"));   // not a credential name
            Environment.SetEnvironmentVariable("CREDENTIALS_DIRECTORY", null);
            Assert.False(Holds("Credential", "db-password"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CREDENTIALS_DIRECTORY", before);
        }
    }

    private sealed class MountFacts(string fstab, params string[] mounted) : HostFacts
    {
        public override string FstabPath => fstab;
        public override IReadOnlySet<string> MountedPoints() => mounted.ToHashSet();
    }

    [Fact]
    public void RequiresMountsFor_needs_every_fstab_mount_point_on_the_way_mounted()
    {
        var fstab = P("fstab");
        File.WriteAllText(fstab, """
            # <file system> <mount point> <type> <options> <dump> <pass>
            UUID=1 /               ext4 defaults 0 1
            UUID=2 /srv            ext4 defaults 0 2
            UUID=3 /srv/my\040data xfs  noauto   0 2
            UUID=4 none            swap sw       0 0
            tmpfs  /var/tmp/       tmpfs defaults 0 0
            """);
        Assert.Null(RequiredMounts.Missing(["/srv/db"], new MountFacts(fstab, "/", "/srv")));
        Assert.Equal($"RequiresMountsFor=/srv/db: /srv is declared in {fstab} but not mounted (Supervisor does not mount file systems)",
            RequiredMounts.Missing(["/srv/db"], new MountFacts(fstab, "/")));
        // The path itself counts, escapes in fstab are read, a trailing slash is no different.
        Assert.Contains("/srv/my data is declared", RequiredMounts.Missing(["/srv/my data"], new MountFacts(fstab, "/", "/srv")));
        Assert.Contains("/var/tmp is declared", RequiredMounts.Missing(["/var/tmp/cache/../x"], new MountFacts(fstab, "/", "/srv")));
        // What fstab does not declare is no dependency, mounted or not (systemd has no mount unit for it).
        Assert.Null(RequiredMounts.Missing(["/home/u", "/opt"], new MountFacts(fstab, "/")));
        Assert.Null(RequiredMounts.Missing(["/srv/db"], new MountFacts(P("no-fstab"))));
    }

    [Fact]
    public void RequiresMountsFor_is_checked_before_the_conditions_and_reported_as_a_dependency()
    {
        var fstab = P("fstab");
        File.WriteAllText(fstab, "UUID=2 /srv ext4 defaults 0 2\n");
        var unit = new UnitDefinition
        {
            Name = "u", Kind = UnitKind.Service, Sources = new(["/x"]),
            Unit = new UnitSection { RequiresMountsFor = new(["/srv/db"]), Conditions = new([UnitCondition.Parse("PathExists", false, P("nothing"))]) },
        };
        var (conditions, asserts) = new ConditionChecker(new MountFacts(fstab, "/")).Check(unit);
        Assert.True(conditions.Met);
        Assert.False(asserts.Met);
        Assert.True(asserts.Dependency);
        Assert.StartsWith("RequiresMountsFor=/srv/db: /srv is declared", asserts.Describe());
        (conditions, asserts) = new ConditionChecker(new MountFacts(fstab, "/", "/srv")).Check(unit);
        Assert.False(conditions.Met);                                        // mounted: on to the conditions
        Assert.False(asserts.Dependency);
    }

    [Fact]
    public void RequiresMountsFor_sees_a_real_mount_in_this_namespace()
    {
        if (Environment.UserName != "root") Assert.Skip("mounting a tmpfs needs root");
        var m = P("data");
        Directory.CreateDirectory(m);
        var fstab = P("fstab");
        File.WriteAllText(fstab, $"tmpfs {m} tmpfs defaults 0 0\n");
        var facts = new RealMountsFacts(fstab);
        Assert.Contains("is declared", RequiredMounts.Missing([m + "/db"], facts));
        Run("/bin/mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", m);
        try
        {
            Assert.Null(RequiredMounts.Missing([m + "/db"], facts));
        }
        finally
        {
            Run("/bin/umount", m);
        }
    }

    private sealed class RealMountsFacts(string fstab) : HostFacts
    {
        public override string FstabPath => fstab;
    }

    [Fact]
    public void OSRelease_Memory_CPUs_CPUFeature_and_ControlGroupController_read_this_host()
    {
        var release = ResourceChecks.ReadOsRelease();
        if (release.TryGetValue("ID", out var id))
        {
            Assert.True(Holds("OSRelease", $"ID={id}"));
            Assert.False(Holds("OSRelease", $"ID!={id}"));
            Assert.True(Holds("OSRelease", $"ID$={id[..1]}*"));
            Assert.False(Holds("OSRelease", $"ID=not-{id} ID={id}"));        // every word must hold
        }
        if (release.TryGetValue("VERSION_ID", out var version))
            Assert.True(Holds("OSRelease", $"VERSION_ID>=0 VERSION_ID<={version} VERSION_ID<{version}.1"));
        Assert.True(Holds("OSRelease", "SUPERVISOR_NO_SUCH_KEY="));            // a missing key is empty

        var memTotal = ulong.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))[9..].Replace("kB", "").Trim()) * 1024;
        Assert.True(Holds("Memory", "1M"));                                    // ">=" when no operator
        Assert.False(Holds("Memory", "<1M"));
        Assert.False(Holds("Memory", $">{memTotal}"));
        Assert.True(Holds("Memory", $"<={memTotal}"));

        var allowed = Run("/usr/bin/nproc");                                    // the affinity mask, as systemd counts
        Assert.True(Holds("CPUs", $"={allowed}"));
        Assert.True(Holds("CPUs", "1"));
        Assert.False(Holds("CPUs", $">{allowed}"));

        var flags = ResourceChecks.CpuFlags();
        if (flags.Count > 0) Assert.True(Holds("CPUFeature", flags.First()));
        Assert.False(Holds("CPUFeature", "supervisor_no_such_flag"));

        var layout = Supervisor.Cgroups.CgroupLayout.Detect();
        Assert.Equal(layout.IsV2, Holds("ControlGroupController", "v2"));
        Assert.Equal(!layout.IsV2, Holds("ControlGroupController", "v1"));
        Assert.Equal(layout.AvailableControllers.Contains("memory"), Holds("ControlGroupController", "memory"));
        Assert.Equal(layout.AvailableControllers.Contains("memory") && layout.AvailableControllers.Contains("pids"), Holds("ControlGroupController", "memory pids"));
        Assert.True(Holds("ControlGroupController", "no-such-controller"));    // unknown names are ignored, as systemd does
    }

    private sealed class FakeHostFacts(string pressure, string sysDevBlock, (uint, uint)? device) : HostFacts
    {
        public override string PressureDirectory => pressure;
        public override string SysDevBlock => sysDevBlock;
        public override (uint Major, uint Minor)? DeviceOf(string path) => device;
    }

    [Fact]
    public void Pressure_reads_the_full_line_else_some_at_the_window_and_passes_without_PSI()
    {
        var dir = P("pressure");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "memory"), "some avg10=30.00 avg60=12.50 avg300=5.00 total=1\nfull avg10=25.00 avg60=10.00 avg300=2.00 total=1\n");
        File.WriteAllText(Path.Combine(dir, "cpu"), "some avg10=70.00 avg60=40.00 avg300=20.00 total=1\n");
        var c = new ConditionChecker(new FakeHostFacts(dir, P("sys"), null));
        bool H(string kind, string v) => c.Holds(UnitCondition.Parse(kind, false, v));
        Assert.True(H("MemoryPressure", "2%"));                                // full avg300 = 2.00
        Assert.False(H("MemoryPressure", "1.5%"));
        Assert.False(H("MemoryPressure", "20%/10sec"));                        // full avg10 = 25.00
        Assert.True(H("MemoryPressure", "10%/1min"));
        Assert.False(H("CPUPressure", "30%/1min"));                            // no full line: some avg60 = 40
        Assert.True(H("CPUPressure", "20%"));
        Assert.True(H("IOPressure", "0%"));                                    // no file: no PSI, passes
        Assert.True(H("MemoryPressure", "100%"));
        if (File.Exists("/proc/pressure/memory")) Assert.True(Holds("MemoryPressure", "100%"));
    }

    [Fact]
    public void PathIsEncrypted_finds_dm_crypt_on_the_device_or_below_it()
    {
        var sys = P("sys");
        var devices = P("devices");
        void Device(string name, string? uuid, params string[] slaves)
        {
            var d = Path.Combine(devices, name);
            Directory.CreateDirectory(Path.Combine(d, "slaves"));
            if (uuid is not null)
            {
                Directory.CreateDirectory(Path.Combine(d, "dm"));
                File.WriteAllText(Path.Combine(d, "dm", "uuid"), uuid + "\n");
            }
            foreach (var s in slaves) File.CreateSymbolicLink(Path.Combine(d, "slaves", s), Path.Combine(devices, s));
        }
        Directory.CreateDirectory(sys);
        Device("sda", null);
        Device("dm-0", "CRYPT-LUKS2-0123-root", "sda");
        Device("dm-1", "LVM-abc", "dm-0");                                     // LVM on top of LUKS
        Device("dm-2", "LVM-def", "sda");                                      // LVM on a plain disk
        File.CreateSymbolicLink(Path.Combine(sys, "253:0"), Path.Combine(devices, "dm-0"));
        File.CreateSymbolicLink(Path.Combine(sys, "253:1"), Path.Combine(devices, "dm-1"));
        File.CreateSymbolicLink(Path.Combine(sys, "253:2"), Path.Combine(devices, "dm-2"));
        bool Encrypted((uint, uint)? dev) => new ConditionChecker(new FakeHostFacts(P("pressure"), sys, dev)).Holds(UnitCondition.Parse("PathIsEncrypted", false, "/srv"));
        Assert.True(Encrypted((253, 0)));
        Assert.True(Encrypted((253, 1)));
        Assert.False(Encrypted((253, 2)));
        Assert.False(Encrypted((0, 42)));                                      // not a block device (tmpfs, btrfs subvolume)
        Assert.False(Encrypted(null));
    }

    [Fact]
    public void Capability_reads_the_bounding_set()
    {
        var bounding = Convert.ToUInt64(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim(), 16);
        Assert.Equal((bounding & (1UL << 21)) != 0, Holds("Capability", "CAP_SYS_ADMIN"));
        Assert.Equal((bounding & (1UL << 12)) == 0, Holds("Capability", "!CAP_NET_ADMIN"));
    }

    [Fact]
    public void Virtualization_agrees_with_systemd_detect_virt()
    {
        if (!File.Exists("/usr/bin/systemd-detect-virt")) Assert.Skip("systemd-detect-virt is not installed");
        string Detect(params string[] args)
        {
            var psi = new ProcessStartInfo("/usr/bin/systemd-detect-virt") { RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return o;
        }
        var container = Detect("--container");
        bool inContainer = container != "none";
        Assert.Equal(inContainer, Holds("Virtualization", "container"));
        if (inContainer) Assert.True(Holds("Virtualization", container), $"systemd-detect-virt says {container}");
        Assert.Equal(inContainer || Detect("--vm") != "none", Holds("Virtualization", "yes"));
        Assert.False(Holds("Virtualization", "bhyve") && Detect("--vm") != "bhyve");
    }

    [Fact]
    public void Conditions_are_combined_and_asserts_checked_only_when_the_conditions_hold()
    {
        var unit = new UnitDefinition
        {
            Name = "u", Kind = UnitKind.Service, Sources = new(["/x"]),
            Unit = new UnitSection
            {
                Conditions = new([
                    UnitCondition.Parse("PathExists", false, "|" + _dir),
                    UnitCondition.Parse("PathExists", false, "|" + P("nothing")),
                    UnitCondition.Parse("PathExists", true, P("nothing")),
                ]),
            },
        };
        var (conditions, asserts) = _checker.Check(unit);
        Assert.True(conditions.Met);
        Assert.False(asserts.Met);
        Assert.Equal($"AssertPathExists={P("nothing")} was not met", asserts.Describe());
    }
}
