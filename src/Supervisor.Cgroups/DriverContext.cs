using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>Maps a block device path to its major:minor; throws <see cref="CgroupLimitException"/>-ready messages.</summary>
public delegate (uint Major, uint Minor) DeviceResolver(string devicePath);

/// <summary>Options for <see cref="CgroupDriver.Create"/>.</summary>
public sealed record CgroupDriverOptions
{
    /// <summary>Device path → major:minor. Default: statx(2) on the path, which must be a block device.</summary>
    public DeviceResolver? ResolveDevice { get; init; }

    /// <summary>DeviceAllow paths → device nodes. Default: statx(2), null when the path does not exist.</summary>
    public DeviceNodeResolver? ResolveDeviceNode { get; init; }

    /// <summary>Where DeviceAllow's "char-NAME" / "block-NAME" classes are looked up. Default: /proc/devices.</summary>
    public string? ProcDevicesFile { get; init; }

    /// <summary>
    /// Whether this host can load and attach cgroup BPF programs: null when it can, else why not.
    /// Default: load a two-instruction device program once and see (<see cref="BpfSupport.Probe"/>).
    /// </summary>
    public Func<string?>? BpfSupport { get; init; }
}

/// <summary>What drivers and controllers share: layout, confined file access, host facts.</summary>
internal sealed class DriverContext
{
    private CpuSet? _hostCpus;
    private CpuSet? _hostMems;

    public DriverContext(CgroupLayout layout, string root, CgroupFs fs, DeviceResolver resolveDevice, CgroupDriverOptions? options = null)
    {
        Layout = layout;
        Root = root;
        Fs = fs;
        ResolveDevice = resolveDevice;
        ResolveDeviceNode = options?.ResolveDeviceNode ?? DeviceRuleSet.StatDeviceNode;
        ProcDevicesFile = options?.ProcDevicesFile ?? "/proc/devices";
        BpfUnsupported = new Lazy<string?>(options?.BpfSupport ?? Bpf.BpfSupport.Probe);
    }

    public CgroupLayout Layout { get; }

    /// <summary>The supervisor's subtree, relative to each hierarchy ("supervisor").</summary>
    public string Root { get; }

    public CgroupFs Fs { get; }

    /// <summary>Descriptors on the directories holding cgroups, for reading stat files (a scrape).</summary>
    public ParentDirectories Parents { get; } = new();

    public DeviceResolver ResolveDevice { get; }

    public DeviceNodeResolver ResolveDeviceNode { get; }

    public string ProcDevicesFile { get; }

    /// <summary>Why cgroup BPF programs cannot be used here, or null when they can (asked once).</summary>
    public Lazy<string?> BpfUnsupported { get; }

    /// <summary>CPUs the host offers: the top cpuset's list (v1 root cpuset.cpus, v2 cpuset.cpus.effective).</summary>
    public CpuSet HostCpus => _hostCpus ??= ReadTopCpuset(Layout.IsV2 ? "cpuset.cpus.effective" : "cpuset.cpus");

    public CpuSet HostMems => _hostMems ??= ReadTopCpuset(Layout.IsV2 ? "cpuset.mems.effective" : "cpuset.mems");

    private CpuSet ReadTopCpuset(string file)
    {
        string dir = Layout.IsV2 ? Layout.UnifiedMount! : Layout.V1Mounts.GetValueOrDefault("cpuset", "");
        var text = dir.Length == 0 ? null : CgroupFs.TryReadText(Path.Combine(dir, file), out _);
        if (text is null && file.StartsWith("cpuset.cpus", StringComparison.Ordinal))
        {
            // No cpuset controller to ask: every online CPU is available.
            text = CgroupFs.TryReadText("/sys/devices/system/cpu/online", out _);
        }
        return CpuSet.TryParse(text ?? "0", out var set, out _) ? set : CpuSet.Of(0);
    }

    /// <summary>The device a file lives on (st_dev), e.g. to find the disk behind a directory.</summary>
    internal static (uint Major, uint Minor) StatFileSystemDevice(string path)
    {
        if (Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_TYPE, out var st) != 0)
        {
            throw new CgroupException($"stat '{path}' failed: {Errno.Name(Marshal.GetLastPInvokeError())}");
        }
        return (st.DevMajor, st.DevMinor);
    }

    public static (uint Major, uint Minor) StatDevice(string devicePath)
    {
        if (Libc.StatX(Libc.AT_FDCWD, devicePath, 0, Libc.STATX_TYPE, out var st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new CgroupException(errno == Errno.ENOENT
                ? $"device '{devicePath}' does not exist"
                : $"stat '{devicePath}' failed: {Errno.Name(errno)}");
        }
        if ((st.Mode & Libc.S_IFMT) != Libc.S_IFBLK)
        {
            throw new CgroupException($"'{devicePath}' is not a block device");
        }
        return (st.RdevMajor, st.RdevMinor);
    }
}
