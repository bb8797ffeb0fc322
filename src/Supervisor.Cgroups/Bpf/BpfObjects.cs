using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Bpf;

/// <summary>A program attached to a cgroup, as the kernel reports it: enough to tell whether it is the one we would attach.</summary>
internal sealed record AttachedProgram(uint Id, ulong Tag, string Name, IReadOnlyList<AttachedMap> Maps)
{
    public override string ToString() => $"'{Name}' (id {Id}, tag {Tag:x16})";
}

/// <summary>An LPM map of an attached program, read back: its key size (address family), verdict and prefixes.</summary>
internal sealed record AttachedMap(uint KeySize, ulong? Verdict, IReadOnlySet<string> Entries);

/// <summary>
/// The kernel side of cgroup programs, through bpf(2): create and fill maps, load, attach, detach,
/// and read back what is attached. Every fd opened here is closed before returning; an attached
/// program stays alive because the cgroup holds it (and its maps through it), and goes with the
/// cgroup's directory.
/// </summary>
internal static class BpfObjects
{
    private const string License = "GPL";

    /// <summary>The verifier's explanation of a refused program is cut to this many bytes.</summary>
    private const int VerifierLogBytes = 64 * 1024;

    /// <summary>Programs one cgroup can have per attach type (BPF_CGROUP_MAX_PROGS); more is not ours to read.</summary>
    private const int MaxAttached = 64;

    /// <summary>The kernel's tag of each program loaded so far, by <see cref="BpfProgram.Fingerprint"/>.</summary>
    private static readonly ConcurrentDictionary<string, ulong> Tags = new(StringComparer.Ordinal);

    /// <summary>
    /// The tag the kernel gives <paramref name="program"/>: remembered from an earlier load, or
    /// learnt by loading it once (with its maps) and closing it again.
    /// </summary>
    public static ulong TagOf(BpfProgram program)
    {
        if (Tags.TryGetValue(program.Fingerprint, out var tag))
        {
            return tag;
        }
        var maps = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
        try
        {
            using var fd = Load(program, maps);
            return Tags[program.Fingerprint];
        }
        finally
        {
            foreach (var m in maps.Values)
            {
                m.Dispose();
            }
        }
    }

    /// <summary>
    /// Loads <paramref name="program"/>, creating its maps (or reusing those in <paramref name="maps"/>,
    /// so an ingress and an egress program share one set), and returns the program's fd.
    /// </summary>
    public static SafeFd Load(BpfProgram program, Dictionary<LpmMap, SafeFd> maps)
    {
        var fds = program.Maps.Select(m => maps.TryGetValue(m, out var fd) ? fd.Fd : Remember(maps, m, CreateMap(m)).Fd).ToArray();
        var code = program.Encode(fds);
        var log = new byte[VerifierLogBytes];
        var expected = program.ProgramType == Libc.BPF_PROG_TYPE_CGROUP_SOCK_ADDR ? program.AttachType : 0;
        int prog = Libc.BpfProgLoad(program.ProgramType, code, License, expected, program.Name, log);
        if (prog < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            var verifier = Encoding.ASCII.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
            throw new CgroupException($"load BPF program '{program.Name}' failed: {Errno.Name(errno)}"
                + (errno == Errno.EPERM ? " (loading cgroup BPF programs needs CAP_BPF and CAP_NET_ADMIN, or root)" : "")
                + (verifier.Length == 0 ? "" : $"; verifier: {LastLines(verifier)}"));
        }
        var handle = new SafeFd(prog);
        if (Libc.BpfProgGetInfo(prog, out var info, []) == 0)
        {
            Tags[program.Fingerprint] = info.Tag;
        }
        return handle;
    }

    private static SafeFd Remember(Dictionary<LpmMap, SafeFd> maps, LpmMap map, SafeFd fd)
    {
        maps[map] = fd;
        return fd;
    }

    private static string LastLines(string log) => string.Join(" | ", log.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));

    private static SafeFd CreateMap(LpmMap map)
    {
        int fd = Libc.BpfMapCreate(Libc.BPF_MAP_TYPE_LPM_TRIE, (uint)map.KeySize, LpmMap.ValueSize, (uint)Math.Max(1, map.Prefixes.Count), Libc.BPF_F_NO_PREALLOC, map.Name);
        if (fd < 0)
        {
            throw new CgroupException($"create BPF map '{map.Name}' failed: {Errno.Name(Marshal.GetLastPInvokeError())}");
        }
        var handle = new SafeFd(fd);
        Span<byte> key = stackalloc byte[map.KeySize];
        Span<byte> value = stackalloc byte[LpmMap.ValueSize];
        BinaryPrimitives.WriteUInt64LittleEndian(value, map.Verdict);
        foreach (var prefix in map.Prefixes)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)prefix.PrefixLength);
            prefix.Address.GetAddressBytes().CopyTo(key[4..]);
            if (Libc.BpfMapUpdate(fd, key, value, Libc.BPF_ANY) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                handle.Dispose();
                throw new CgroupException($"add {prefix} to BPF map '{map.Name}' failed: {Errno.Name(errno)}");
            }
        }
        return handle;
    }

    /// <summary>An fd on the cgroup directory, the target of attach, detach and query.</summary>
    public static SafeFd OpenCgroup(string dir)
    {
        int fd = Libc.Open(dir, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        return fd < 0 ? throw new CgroupIoException("open", dir, Marshal.GetLastPInvokeError()) : new SafeFd(fd);
    }

    /// <summary>
    /// Attaches with BPF_F_ALLOW_MULTI: the programs of the slices above run as well, and each of
    /// them can refuse (the kernel runs every level's programs; all must allow).
    /// </summary>
    public static void Attach(SafeFd cgroup, string dir, SafeFd program, BpfProgram spec)
    {
        if (Libc.BpfProgAttach(cgroup.Fd, program.Fd, spec.AttachType, Libc.BPF_F_ALLOW_MULTI) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new CgroupIoException($"attach BPF program '{spec.Name}' ({AttachTypeName(spec.AttachType)}) to", dir, errno,
                errno == Errno.EPERM ? "a program attached without BPF_F_ALLOW_MULTI is in the way" : null);
        }
    }

    /// <summary>Detaches the program with this id; one that is already gone is what we wanted.</summary>
    public static void Detach(SafeFd cgroup, string dir, uint attachType, uint id)
    {
        int fd = Libc.BpfProgGetFdById(id);
        if (fd < 0)
        {
            return; // unloaded meanwhile (its cgroup let go of it)
        }
        using var program = new SafeFd(fd);
        if (Libc.BpfProgDetach(cgroup.Fd, program.Fd, attachType) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.ENOENT)
            {
                throw new CgroupIoException($"detach BPF program {id} ({AttachTypeName(attachType)}) from", dir, errno);
            }
        }
    }

    /// <summary>The programs attached to the cgroup itself for one attach type (not those inherited from above).</summary>
    public static IReadOnlyList<AttachedProgram> Query(SafeFd cgroup, string dir, uint attachType, bool withMaps)
    {
        var ids = new uint[MaxAttached];
        if (Libc.BpfProgQuery(cgroup.Fd, attachType, ids, out var count, out _) != 0)
        {
            throw new CgroupIoException($"query BPF programs ({AttachTypeName(attachType)}) of", dir, Marshal.GetLastPInvokeError());
        }
        var list = new List<AttachedProgram>();
        foreach (var id in ids.AsSpan(0, (int)Math.Min(count, MaxAttached)))
        {
            if (Describe(id, withMaps) is { } p)
            {
                list.Add(p);
            }
        }
        return list;
    }

    private static AttachedProgram? Describe(uint id, bool withMaps)
    {
        int fd = Libc.BpfProgGetFdById(id);
        if (fd < 0)
        {
            return null; // detached and unloaded between the query and now
        }
        using var program = new SafeFd(fd);
        var mapIds = new uint[8];
        if (Libc.BpfProgGetInfo(program.Fd, out var info, mapIds) != 0)
        {
            throw new CgroupException($"read BPF program {id}: {Errno.Name(Marshal.GetLastPInvokeError())}");
        }
        var maps = withMaps ? mapIds.Take((int)Math.Min(info.MapIds, (uint)mapIds.Length)).Select(ReadMap).ToList() : [];
        return new AttachedProgram(id, info.Tag, info.Name, maps);
    }

    /// <summary>An LPM map's entries as "address/prefix" text, and the verdict they carry.</summary>
    private static AttachedMap ReadMap(uint id)
    {
        int fd = Libc.BpfMapGetFdById(id);
        if (fd < 0)
        {
            return new AttachedMap(0, null, new HashSet<string>());
        }
        using var map = new SafeFd(fd);
        Libc.BpfMapGetInfo(map.Fd, out var info);
        if (info.KeySize is not (8 or 20) || info.ValueSize != LpmMap.ValueSize)
        {
            return new AttachedMap(info.KeySize, null, new HashSet<string>());
        }
        var entries = new HashSet<string>(StringComparer.Ordinal);
        ulong? verdict = null;
        var key = new byte[info.KeySize];
        var next = new byte[info.KeySize];
        var value = new byte[LpmMap.ValueSize];
        bool first = true;
        // Bounded by the map's own size: a trie never holds more than max_entries.
        for (uint n = 0; n <= info.MaxEntries && Libc.BpfMapGetNextKey(map.Fd, first ? [] : key, next) == 0; n++)
        {
            first = false;
            next.CopyTo(key, 0);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(key);
            entries.Add(new IpPrefix(new IPAddress(key.AsSpan(4)), Math.Min(length, (key.Length - 4) * 8)).ToString());
            if (verdict is null && Libc.BpfMapLookup(map.Fd, key, value) == 0)
            {
                verdict = BinaryPrimitives.ReadUInt64LittleEndian(value);
            }
        }
        return new AttachedMap(info.KeySize, verdict, entries);
    }

    public static string AttachTypeName(uint attachType) => attachType switch
    {
        Libc.BPF_CGROUP_INET_INGRESS => "BPF_CGROUP_INET_INGRESS",
        Libc.BPF_CGROUP_INET_EGRESS => "BPF_CGROUP_INET_EGRESS",
        Libc.BPF_CGROUP_DEVICE => "BPF_CGROUP_DEVICE",
        Libc.BPF_CGROUP_INET4_BIND => "BPF_CGROUP_INET4_BIND",
        Libc.BPF_CGROUP_INET6_BIND => "BPF_CGROUP_INET6_BIND",
        _ => $"attach type {attachType}",
    };
}
