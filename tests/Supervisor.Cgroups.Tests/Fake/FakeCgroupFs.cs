using Supervisor.Cgroups;

namespace Supervisor.Cgroups.Tests.Fake;

/// <summary>
/// A temp directory laid out like a host's cgroupfs. Plain files do not materialise on mkdir the
/// way cgroupfs files do, so the test pre-creates each cgroup it will use with <see cref="AddCgroup"/>;
/// the driver then finds the directory already there (mkdir accepts EEXIST) and writes its files.
/// </summary>
internal sealed class FakeCgroupFs : IDisposable
{
    public const string Root = "supervisor";

    public static readonly IReadOnlyList<string> V1Hierarchies = ["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"];

    private FakeCgroupFs(string dir, bool v2)
    {
        Dir = dir;
        IsV2 = v2;
        ProcSelfCgroup = Path.Combine(dir, "proc-self-cgroup");
        FsRoot = Path.Combine(dir, "cgroup");
        Directory.CreateDirectory(FsRoot);
    }

    public string Dir { get; }

    public string FsRoot { get; }

    public string ProcSelfCgroup { get; }

    public bool IsV2 { get; }

    public static string SamplesV1 => Path.Combine(AppContext.BaseDirectory, "Samples", "v1");

    /// <summary>This machine's layout: v1 controllers, named systemd and devices hierarchies, an empty cgroup2 at unified/.</summary>
    public static FakeCgroupFs HybridV1(bool cfqWeight = false, bool swapAccounting = true, IEnumerable<string>? omit = null)
    {
        var fake = new FakeCgroupFs(NewTemp(), v2: false);
        var skip = new HashSet<string>(omit ?? []);
        foreach (var h in V1Hierarchies.Where(h => !skip.Contains(h)))
        {
            var dir = Path.Combine(fake.FsRoot, h);
            CopySample(h, dir);
        }
        foreach (var extra in (string[])["systemd"])
        {
            Directory.CreateDirectory(Path.Combine(fake.FsRoot, extra));
            File.WriteAllText(Path.Combine(fake.FsRoot, extra, "cgroup.procs"), "");
        }
        var unified = Path.Combine(fake.FsRoot, "unified");
        Directory.CreateDirectory(unified);
        File.WriteAllText(Path.Combine(unified, "cgroup.controllers"), "\n");
        File.WriteAllText(Path.Combine(unified, "cgroup.procs"), "");
        if (!skip.Contains("cpuset"))
        {
            File.WriteAllText(Path.Combine(fake.FsRoot, "cpuset", "cpuset.cpus"), "0-3\n");
            File.WriteAllText(Path.Combine(fake.FsRoot, "cpuset", "cpuset.mems"), "0-1\n");
        }
        if (!skip.Contains("blkio"))
        {
            if (cfqWeight)
            {
                File.WriteAllText(Path.Combine(fake.FsRoot, "blkio", "blkio.weight"), "500\n");
            }
        }
        if (!swapAccounting && !skip.Contains("memory"))
        {
            foreach (var f in Directory.GetFiles(Path.Combine(fake.FsRoot, "memory"), "memory.memsw.*"))
            {
                File.Delete(f);
            }
        }
        File.WriteAllText(fake.ProcSelfCgroup,
            "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n");
        fake.AddCgroup(Root);
        return fake;
    }

    /// <summary>A pure v2 host with memory, cpu, cpuset, io and pids enabled for our subtree.</summary>
    public static FakeCgroupFs UnifiedV2(string controllers = "cpuset cpu io memory hugetlb pids rdma misc", bool swap = true, bool bfq = true)
    {
        var fake = new FakeCgroupFs(NewTemp(), v2: true);
        var root = fake.FsRoot;
        File.WriteAllText(Path.Combine(root, "cgroup.controllers"), controllers + "\n");
        File.WriteAllText(Path.Combine(root, "cgroup.subtree_control"), "\n");
        File.WriteAllText(Path.Combine(root, "cgroup.procs"), "1\n");
        File.WriteAllText(Path.Combine(root, "cpuset.cpus.effective"), "0-3\n");
        File.WriteAllText(Path.Combine(root, "cpuset.mems.effective"), "0\n");
        File.WriteAllText(fake.ProcSelfCgroup, "0::/init.scope\n");
        fake._v2Controllers = string.Join(' ', controllers.Split(' ').Where(c => CgroupLayout.V2Controllers.Contains(c)));
        fake._v2Swap = swap;
        fake._v2Bfq = bfq;
        fake.AddCgroup(Root);
        return fake;
    }

    private string _v2Controllers = "";
    private bool _v2Swap;
    private bool _v2Bfq;

    /// <summary>Creates the cgroup (and its parents) with the files a fresh kernel cgroup has.</summary>
    public void AddCgroup(string relative)
    {
        var parts = relative.Split('/');
        for (int i = 1; i <= parts.Length; i++)
        {
            var rel = string.Join('/', parts.Take(i));
            if (IsV2)
            {
                var dir = Path.Combine(FsRoot, rel);
                if (!Directory.Exists(dir))
                {
                    WriteV2Cgroup(dir);
                }
            }
            else
            {
                foreach (var h in V1Hierarchies)
                {
                    var hdir = Path.Combine(FsRoot, h);
                    var dir = Path.Combine(hdir, rel);
                    if (Directory.Exists(hdir) && !Directory.Exists(dir))
                    {
                        CopySample(h, dir);
                        // Only hierarchy roots have release_agent/sane_behavior; a new cpuset is empty.
                        if (h == "cpuset")
                        {
                            File.WriteAllText(Path.Combine(dir, "cpuset.cpus"), "\n");
                            File.WriteAllText(Path.Combine(dir, "cpuset.mems"), "\n");
                        }
                        if (h == "memory" && !File.Exists(Path.Combine(hdir, "memory.memsw.limit_in_bytes")))
                        {
                            foreach (var f in Directory.GetFiles(dir, "memory.memsw.*"))
                            {
                                File.Delete(f);
                            }
                        }
                    }
                }
            }
        }
    }

    private void WriteV2Cgroup(string dir)
    {
        Directory.CreateDirectory(dir);
        var files = new Dictionary<string, string>
        {
            ["cgroup.controllers"] = _v2Controllers + "\n",
            ["cgroup.subtree_control"] = "\n",
            ["cgroup.procs"] = "",
            ["cgroup.events"] = "populated 0\nfrozen 0\n",
            ["cgroup.freeze"] = "0\n",
            ["cgroup.kill"] = "",
            ["cpu.stat"] = V2Samples.CpuStat,
            ["cpu.pressure"] = V2Samples.CpuPressure,
            ["memory.pressure"] = V2Samples.MemoryPressure,
            ["io.pressure"] = V2Samples.IoPressure,
        };
        var c = _v2Controllers.Split(' ');
        if (c.Contains("memory"))
        {
            files["memory.current"] = "104857600\n";
            files["memory.peak"] = "209715200\n";
            files["memory.min"] = "0\n";
            files["memory.low"] = "0\n";
            files["memory.high"] = "max\n";
            files["memory.max"] = "max\n";
            files["memory.stat"] = V2Samples.MemoryStat;
            files["memory.events"] = V2Samples.MemoryEvents;
            if (_v2Swap)
            {
                files["memory.swap.max"] = "max\n";
                files["memory.swap.current"] = "4096\n";
            }
        }
        if (c.Contains("cpu"))
        {
            files["cpu.max"] = "max 100000\n";
            files["cpu.weight"] = "100\n";
        }
        if (c.Contains("cpuset"))
        {
            files["cpuset.cpus"] = "\n";
            files["cpuset.mems"] = "\n";
            files["cpuset.cpus.effective"] = "0-3\n";
        }
        if (c.Contains("pids"))
        {
            files["pids.max"] = "max\n";
            files["pids.current"] = "3\n";
        }
        if (c.Contains("io"))
        {
            files["io.max"] = "";
            files["io.weight"] = "default 100\n";
            files["io.stat"] = V2Samples.IoStat;
            if (_v2Bfq)
            {
                files["io.bfq.weight"] = "default 100\n";
            }
        }
        foreach (var (name, text) in files)
        {
            File.WriteAllText(Path.Combine(dir, name), text);
        }
    }

    public CgroupLayout Layout() => CgroupLayout.Detect(FsRoot, ProcSelfCgroup);

    public ICgroupDriver Driver() => CgroupDriver.Create(Layout(), Root, Options);

    /// <summary>Devices and /proc/devices of a made-up host, and BPF taken as loadable: nothing here asks the real kernel.</summary>
    public CgroupDriverOptions Options => new()
    {
        ResolveDevice = FakeDevices.Resolve,
        ResolveDeviceNode = FakeDevices.Node,
        ProcDevicesFile = WriteProcDevices(),
        BpfSupport = () => null,
    };

    private string WriteProcDevices()
    {
        var file = Path.Combine(Dir, "proc-devices");
        File.WriteAllText(file, FakeDevices.ProcDevices);
        return file;
    }

    /// <summary>Absolute path of a file in a cgroup: v1 (hierarchy, relative, file), v2 (relative, file).</summary>
    public string V1(string hierarchy, string relative, string file) => Path.Combine(FsRoot, hierarchy, relative, file);

    public string V2(string relative, string file) => Path.Combine(FsRoot, relative, file);

    public static string Read(string path) => File.ReadAllText(path);

    private static void CopySample(string hierarchy, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Path.Combine(SamplesV1, hierarchy)))
        {
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
        }
    }

    private static string NewTemp()
    {
        var dir = Path.Combine(Path.GetTempPath(), "supervisor-cgroups-fake-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Stand-in for stat(2) on block devices, so mapping tests do not depend on the host's disks.</summary>
internal static class FakeDevices
{
    public static (uint, uint) Resolve(string path) => path switch
    {
        "/dev/vda" => (254, 0),
        "/dev/sdb" => (8, 16),
        _ => throw new CgroupException($"device '{path}' does not exist"),
    };

    /// <summary>Device nodes by path (stat(2) stand-in for DeviceAllow): the standard pseudo devices, a disk, a loop device.</summary>
    public static DeviceNode? Node(string path) => path switch
    {
        "/dev/null" => new DeviceNode('c', 1, 3),
        "/dev/zero" => new DeviceNode('c', 1, 5),
        "/dev/full" => new DeviceNode('c', 1, 7),
        "/dev/random" => new DeviceNode('c', 1, 8),
        "/dev/urandom" => new DeviceNode('c', 1, 9),
        "/dev/tty" => new DeviceNode('c', 5, 0),
        "/dev/ptmx" => new DeviceNode('c', 5, 2),
        "/dev/vda" => new DeviceNode('b', 254, 0),
        "/dev/loop0" => new DeviceNode('b', 7, 0),
        "/dev/directory" => throw new CgroupException("is not a device node"),
        _ => null,
    };

    /// <summary>A /proc/devices like this machine's.</summary>
    public const string ProcDevices = """
        Character devices:
          1 mem
          4 /dev/vc/0
          4 tty
          4 ttyS
          5 /dev/tty
          5 /dev/console
          5 /dev/ptmx
        128 ptm
        136 pts
        254 ndctl

        Block devices:
          7 loop
        254 virtblk
        259 blkext
        """;
}

/// <summary>v2 file formats as documented in Documentation/admin-guide/cgroup-v2.rst.</summary>
internal static class V2Samples
{
    public const string CpuStat =
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\ncore_sched.force_idle_usec 0\nnr_periods 40\nnr_throttled 12\nthrottled_usec 1300000\nnr_bursts 0\nburst_usec 0\n";

    public const string MemoryStat =
        "anon 52428800\nfile 41943040\nkernel 1048576\nkernel_stack 16384\npagetables 65536\nsec_pagetables 0\npercpu 0\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 4096\nfile_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 52000000\nactive_anon 428800\ninactive_file 31457280\nactive_file 10485760\nunevictable 0\nslab_reclaimable 0\nslab_unreclaimable 0\nslab 0\nworkingset_refault_anon 0\nworkingset_refault_file 0\npgfault 100\npgmajfault 0\n";

    public const string MemoryEvents = "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n";

    public const string IoStat =
        "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n";

    public const string CpuPressure = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1200\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=800\n";

    public const string MemoryPressure = "some avg10=0.00 avg60=0.00 avg300=0.00 total=3400\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2100\n";

    public const string IoPressure = "some avg10=0.10 avg60=0.02 avg300=0.00 total=56000\nfull avg10=0.10 avg60=0.02 avg300=0.00 total=41000\n";
}
