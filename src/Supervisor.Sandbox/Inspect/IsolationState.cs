using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Linux.Proc;

namespace Supervisor.Sandbox.Inspect;

/// <summary>
/// The isolation a live process is in, read from /proc the way a person would check it:
/// namespace inodes against PID 1's, cgroup, the five Cap* sets, NoNewPrivs, Seccomp and
/// Seccomp_filters, LSM label, root, mounts, hostname.
/// </summary>
public sealed record IsolationState
{
    public static readonly ImmutableArray<string> NamespaceKinds = [.. Supervisor.Linux.NamespaceKind.All.Select(k => k.ProcName)];

    public required int Pid { get; init; }
    /// <summary>Namespace kind → inode, for the process and for PID 1 (the host).</summary>
    public required ImmutableDictionary<string, ulong> Namespaces { get; init; }
    public required ImmutableDictionary<string, ulong> HostNamespaces { get; init; }
    /// <summary>Lines of /proc/PID/cgroup ("hierarchy-id:controllers:path").</summary>
    public required ImmutableArray<string> Cgroups { get; init; }
    public required uint Uid { get; init; }
    public required uint Gid { get; init; }
    public required ulong CapInh { get; init; }
    public required ulong CapPrm { get; init; }
    public required ulong CapEff { get; init; }
    public required ulong CapBnd { get; init; }
    public required ulong CapAmb { get; init; }
    public required bool NoNewPrivs { get; init; }
    /// <summary>0 off, 1 strict, 2 filter.</summary>
    public required int SeccompMode { get; init; }
    public required int SeccompFilters { get; init; }
    public string? LsmLabel { get; init; }
    /// <summary>True when the process's root is the host's / (no pivot_root/chroot).</summary>
    public required bool RootIsHostRoot { get; init; }
    /// <summary>/proc/PID/mountinfo entries: mount point (as the process sees it) and options.</summary>
    public required ImmutableArray<(string MountPoint, string Options)> Mounts { get; init; }
    public string? Hostname { get; init; }
    /// <summary>The file mode creation mask (status "Umask:", Linux 4.7 and later); null where the kernel does not show it.</summary>
    public uint? Umask { get; init; }
    /// <summary>Nice, policy and real-time priority from /proc/PID/stat; null when unreadable.</summary>
    public ProcScheduling? Scheduling { get; init; }
    /// <summary>ioprio_get(2): class &lt;&lt; 13 | data; null when it failed.</summary>
    public int? IoPriority { get; init; }
    public int? OomScoreAdjust { get; init; }
    /// <summary>Ignored signals (status "SigIgn:"), bit N-1 for signal N.</summary>
    public ulong? SigIgn { get; init; }

    public bool InNewNamespace(string kind) =>
        Namespaces.TryGetValue(kind, out var mine) && HostNamespaces.TryGetValue(kind, out var host) && mine != host;

    /// <summary>
    /// Reads the state of a live process; throws if it is gone. The host reference is PID 1's
    /// namespaces; where PID 1's are not readable (it is in another user namespace, or ptrace
    /// access to it is denied) the supervisor's own, which are the host's by construction.
    /// </summary>
    public static IsolationState Read(int pid, int hostReferencePid = 1)
    {
        var status = ProcStatus.Read(pid);

        string? label = null;
        try
        {
            label = File.ReadAllText($"/proc/{pid}/attr/current").TrimEnd('\0', '\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No LSM that exposes a label: nothing to report.
        }

        var mounts = File.ReadAllLines($"/proc/{pid}/mountinfo").Select(l =>
        {
            var f = l.Split(' ');
            return (Unescape(f[4]), f[5]);
        }).ToImmutableArray();

        var namespaces = ReadNamespaces(pid);
        var host = HostReference(hostReferencePid);
        // The hostname is read by joining the process's UTS namespace on a fresh thread; in the
        // host's own namespace it is simply ours (a thousand unsandboxed units need no threads).
        bool hostUts = namespaces.TryGetValue("uts", out var uts) && host.TryGetValue("uts", out var hostUtsId) && uts == hostUtsId;
        return new IsolationState
        {
            Pid = pid,
            Namespaces = namespaces,
            HostNamespaces = host,
            Cgroups = [.. File.ReadAllLines($"/proc/{pid}/cgroup")],
            Uid = status.Uid?.Real ?? throw new FormatException($"/proc/{pid}/status has no Uid line"),
            Gid = status.Gid?.Real ?? throw new FormatException($"/proc/{pid}/status has no Gid line"),
            // A set or flag the kernel does not report yet (CapAmb before 4.3, NoNewPrivs before
            // 4.10, Seccomp_filters before 5.9) cannot be set either: it is empty, off, none.
            CapInh = status.CapInh ?? 0,
            CapPrm = status.CapPrm ?? 0,
            CapEff = status.CapEff ?? 0,
            CapBnd = status.CapBnd ?? 0,
            CapAmb = status.CapAmb ?? 0,
            NoNewPrivs = status.NoNewPrivs ?? false,
            SeccompMode = status.Seccomp ?? 0,
            SeccompFilters = status.SeccompFilters ?? 0,
            LsmLabel = label,
            RootIsHostRoot = SameFile($"/proc/{pid}/root", "/"),
            Mounts = mounts,
            Hostname = hostUts ? System.Net.Dns.GetHostName() : Supervisor.Linux.UtsNamespace.HostnameOf(pid),
            Umask = status.Umask,
            Scheduling = ProcScheduling.TryRead(pid),
            IoPriority = Supervisor.Linux.Native.Libc.IoprioGet(pid) is var io and >= 0 ? io : null,
            OomScoreAdjust = ProcScheduling.TryReadOomScoreAdjust(pid),
            SigIgn = status.SigIgn,
        };
    }

    private static ImmutableDictionary<string, ulong>? _hostReference;

    /// <summary>PID 1's namespaces over ours; they never change, so PID 1's are read once.</summary>
    private static ImmutableDictionary<string, ulong> HostReference(int pid)
    {
        if (pid == 1) return _hostReference ??= ReadHostReference(1);
        return ReadHostReference(pid);
    }

    private static ImmutableDictionary<string, ulong> ReadHostReference(int pid)
    {
        var reference = ReadNamespaces(pid);
        var self = ReadNamespaces(Environment.ProcessId);
        return self.SetItems(reference);
    }

    private static ImmutableDictionary<string, ulong> ReadNamespaces(int pid)
    {
        var b = ImmutableDictionary.CreateBuilder<string, ulong>();
        foreach (var kind in NamespaceKinds)
        {
            string? link;
            try
            {
                link = new FileInfo($"/proc/{pid}/ns/{kind}").LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // EACCES on another user's or a protected process's links
            }
            // "net:[4026531840]"
            if (link is not null && link.IndexOf('[') is int open and >= 0)
                b[kind] = ulong.Parse(link[(open + 1)..^1], CultureInfo.InvariantCulture);
        }
        return b.ToImmutable();
    }

    private static bool SameFile(string a, string b)
    {
        var sa = Stat(a);
        var sb = Stat(b);
        return sa is not null && sa == sb;
    }

    // /proc/PID/root/. follows the process's root; compare device and inode via statx.
    private static Supervisor.Linux.Files.FileIdentity? Stat(string path) => Supervisor.Linux.Files.Statx.Identity(path + "/.");

    private static string Unescape(string s) =>
        s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
