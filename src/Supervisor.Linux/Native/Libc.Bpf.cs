using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.Linux.Native;

/// <summary>
/// bpf(2): loading programs and maps, attaching programs to a cgroup, and reading back what is
/// attached. glibc has no wrapper, so the call goes through syscall(2). Every command takes a
/// <c>union bpf_attr</c>; it is filled here as zeroed bytes at the offsets of
/// include/uapi/linux/bpf.h (the kernel refuses non-zero bytes after a command's last field), so
/// callers pass spans and numbers and need no unsafe code. Each call returns what the syscall
/// returns: a new fd or 0, or -1 with errno.
/// </summary>
public static unsafe partial class Libc
{
    // enum bpf_cmd
    public const int BPF_MAP_CREATE = 0;
    public const int BPF_MAP_LOOKUP_ELEM = 1;
    public const int BPF_MAP_UPDATE_ELEM = 2;
    public const int BPF_MAP_GET_NEXT_KEY = 4;
    public const int BPF_PROG_LOAD = 5;
    public const int BPF_PROG_ATTACH = 8;
    public const int BPF_PROG_DETACH = 9;
    public const int BPF_PROG_TEST_RUN = 10;
    public const int BPF_PROG_GET_FD_BY_ID = 13;
    public const int BPF_MAP_GET_FD_BY_ID = 14;
    public const int BPF_OBJ_GET_INFO_BY_FD = 15;
    public const int BPF_PROG_QUERY = 16;

    // enum bpf_prog_type
    public const uint BPF_PROG_TYPE_CGROUP_SKB = 8;
    public const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    public const uint BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;

    // enum bpf_attach_type
    public const uint BPF_CGROUP_INET_INGRESS = 0;
    public const uint BPF_CGROUP_INET_EGRESS = 1;
    public const uint BPF_CGROUP_DEVICE = 6;
    public const uint BPF_CGROUP_INET4_BIND = 8;
    public const uint BPF_CGROUP_INET6_BIND = 9;

    // enum bpf_map_type
    public const uint BPF_MAP_TYPE_LPM_TRIE = 11;

    /// <summary>BPF_PROG_ATTACH: programs of every level of the hierarchy run, each may deny.</summary>
    public const uint BPF_F_ALLOW_MULTI = 2;

    /// <summary>BPF_MAP_CREATE: required for LPM tries (entries are allocated on insert).</summary>
    public const uint BPF_F_NO_PREALLOC = 1;

    /// <summary>BPF_MAP_UPDATE_ELEM: create or replace.</summary>
    public const ulong BPF_ANY = 0;

    private const int SYS_bpf_x64 = 321;
    private const int SYS_bpf_arm64 = 280;

    /// <summary>Bytes of union bpf_attr filled by these calls: every field used here lies below 80.</summary>
    private const int AttrSize = 128;

    /// <summary>struct bpf_prog_info up to and including name[16].</summary>
    private const int ProgInfoSize = 80;

    /// <summary>struct bpf_map_info up to and including name[16].</summary>
    private const int MapInfoSize = 40;

    /// <summary>The kernel's object names (prog_name, map_name) hold 15 characters and a NUL.</summary>
    private const int ObjectNameLength = 16;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long cmd, byte* attr, long size);

    private static int Bpf(int cmd, Span<byte> attr)
    {
        long number = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SYS_bpf_arm64 : SYS_bpf_x64;
        fixed (byte* a = attr)
        {
            return (int)Syscall(number, cmd, a, attr.Length);
        }
    }

    private static void U32(Span<byte> attr, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(attr[offset..], value);

    private static void U64(Span<byte> attr, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(attr[offset..], value);

    private static void Name(Span<byte> attr, int offset, string name)
    {
        var bytes = Encoding.ASCII.GetBytes(name);
        bytes.AsSpan(0, Math.Min(bytes.Length, ObjectNameLength - 1)).CopyTo(attr[offset..]);
    }

    /// <summary>BPF_MAP_CREATE; <paramref name="name"/> is cut to 15 characters (it shows in bpftool).</summary>
    public static int BpfMapCreate(uint mapType, uint keySize, uint valueSize, uint maxEntries, uint flags, string name)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        U32(attr, 0, mapType);
        U32(attr, 4, keySize);
        U32(attr, 8, valueSize);
        U32(attr, 12, maxEntries);
        U32(attr, 16, flags);
        Name(attr, 28, name);
        return Bpf(BPF_MAP_CREATE, attr);
    }

    /// <summary>BPF_MAP_UPDATE_ELEM with <paramref name="flags"/> (BPF_ANY).</summary>
    public static int BpfMapUpdate(int mapFd, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            U32(attr, 0, (uint)mapFd);
            U64(attr, 8, (ulong)k);
            U64(attr, 16, (ulong)v);
            U64(attr, 24, flags);
            return Bpf(BPF_MAP_UPDATE_ELEM, attr);
        }
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM: the value stored under an exact key (-1 with ENOENT when none).</summary>
    public static int BpfMapLookup(int mapFd, ReadOnlySpan<byte> key, Span<byte> value)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            U32(attr, 0, (uint)mapFd);
            U64(attr, 8, (ulong)k);
            U64(attr, 16, (ulong)v);
            return Bpf(BPF_MAP_LOOKUP_ELEM, attr);
        }
    }

    /// <summary>
    /// BPF_MAP_GET_NEXT_KEY: the key after <paramref name="key"/>, or the first key when
    /// <paramref name="key"/> is empty; -1 with ENOENT after the last.
    /// </summary>
    public static int BpfMapGetNextKey(int mapFd, ReadOnlySpan<byte> key, Span<byte> next)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* k = key)
        fixed (byte* n = next)
        {
            U32(attr, 0, (uint)mapFd);
            U64(attr, 8, key.IsEmpty ? 0 : (ulong)k);
            U64(attr, 16, (ulong)n);
            return Bpf(BPF_MAP_GET_NEXT_KEY, attr);
        }
    }

    /// <summary>
    /// BPF_PROG_LOAD of 8-byte instructions. The verifier's explanation of a refusal is written to
    /// <paramref name="log"/> (NUL-terminated) when it is not empty.
    /// </summary>
    public static int BpfProgLoad(uint progType, ReadOnlySpan<byte> instructions, string license, uint expectedAttachType, string name, Span<byte> log)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        var licenseBytes = Encoding.ASCII.GetBytes(license + "\0");
        fixed (byte* insns = instructions)
        fixed (byte* lic = licenseBytes)
        fixed (byte* logBuf = log)
        {
            U32(attr, 0, progType);
            U32(attr, 4, (uint)(instructions.Length / 8));
            U64(attr, 8, (ulong)insns);
            U64(attr, 16, (ulong)lic);
            if (!log.IsEmpty)
            {
                U32(attr, 24, 1); // log_level 1: the verifier says why it refuses
                U32(attr, 28, (uint)log.Length);
                U64(attr, 32, (ulong)logBuf);
            }
            Name(attr, 48, name);
            U32(attr, 68, expectedAttachType);
            return Bpf(BPF_PROG_LOAD, attr);
        }
    }

    /// <summary>BPF_PROG_ATTACH of <paramref name="progFd"/> to the cgroup directory fd <paramref name="targetFd"/>.</summary>
    public static int BpfProgAttach(int targetFd, int progFd, uint attachType, uint flags)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        U32(attr, 0, (uint)targetFd);
        U32(attr, 4, (uint)progFd);
        U32(attr, 8, attachType);
        U32(attr, 12, flags);
        return Bpf(BPF_PROG_ATTACH, attr);
    }

    /// <summary>BPF_PROG_DETACH of one program (an fd of it, e.g. from <see cref="BpfProgGetFdById"/>).</summary>
    public static int BpfProgDetach(int targetFd, int progFd, uint attachType)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        U32(attr, 0, (uint)targetFd);
        U32(attr, 4, (uint)progFd);
        U32(attr, 8, attachType);
        return Bpf(BPF_PROG_DETACH, attr);
    }

    /// <summary>
    /// BPF_PROG_QUERY: the ids of the programs attached to the cgroup itself (not inherited) for one
    /// attach type. <paramref name="count"/> is the number attached, which may exceed
    /// <paramref name="ids"/>' length (then the call fails with ENOSPC and the caller retries larger).
    /// </summary>
    public static int BpfProgQuery(int targetFd, uint attachType, Span<uint> ids, out uint count, out uint attachFlags)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (uint* p = ids)
        {
            U32(attr, 0, (uint)targetFd);
            U32(attr, 4, attachType);
            U64(attr, 16, (ulong)p);
            U32(attr, 24, (uint)ids.Length);
            int r = Bpf(BPF_PROG_QUERY, attr);
            attachFlags = BinaryPrimitives.ReadUInt32LittleEndian(attr[12..]);
            count = BinaryPrimitives.ReadUInt32LittleEndian(attr[24..]);
            return r;
        }
    }

    /// <summary>BPF_PROG_GET_FD_BY_ID: a new fd on a loaded program.</summary>
    public static int BpfProgGetFdById(uint id)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        U32(attr, 0, id);
        return Bpf(BPF_PROG_GET_FD_BY_ID, attr);
    }

    /// <summary>BPF_MAP_GET_FD_BY_ID: a new fd on a map.</summary>
    public static int BpfMapGetFdById(uint id)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        U32(attr, 0, id);
        return Bpf(BPF_MAP_GET_FD_BY_ID, attr);
    }

    /// <summary>What the kernel tells about a loaded program (struct bpf_prog_info, the fields used here).</summary>
    /// <param name="Tag">The kernel's digest of the instructions (map references zeroed): same program, same tag.</param>
    /// <param name="MapIds">How many maps the program uses (their ids fill the span given).</param>
    public readonly record struct BpfProgInfo(uint Type, uint Id, ulong Tag, uint MapIds, string Name);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD on a program; <paramref name="mapIds"/> receives the ids of the maps it uses.</summary>
    public static int BpfProgGetInfo(int progFd, out BpfProgInfo info, Span<uint> mapIds)
    {
        Span<byte> buffer = stackalloc byte[ProgInfoSize];
        buffer.Clear();
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* b = buffer)
        fixed (uint* ids = mapIds)
        {
            U32(buffer, 52, (uint)mapIds.Length);
            U64(buffer, 56, (ulong)ids);
            U32(attr, 0, (uint)progFd);
            U32(attr, 4, ProgInfoSize);
            U64(attr, 8, (ulong)b);
            int r = Bpf(BPF_OBJ_GET_INFO_BY_FD, attr);
            info = new BpfProgInfo(
                BinaryPrimitives.ReadUInt32LittleEndian(buffer),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]),
                BinaryPrimitives.ReadUInt64BigEndian(buffer[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[52..]),
                CString(buffer.Slice(64, ObjectNameLength)));
            return r;
        }
    }

    /// <summary>What the kernel tells about a map (struct bpf_map_info, the fields used here).</summary>
    public readonly record struct BpfMapInfo(uint Type, uint Id, uint KeySize, uint ValueSize, uint MaxEntries, string Name);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD on a map.</summary>
    public static int BpfMapGetInfo(int mapFd, out BpfMapInfo info)
    {
        Span<byte> buffer = stackalloc byte[MapInfoSize];
        buffer.Clear();
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* b = buffer)
        {
            U32(attr, 0, (uint)mapFd);
            U32(attr, 4, MapInfoSize);
            U64(attr, 8, (ulong)b);
            int r = Bpf(BPF_OBJ_GET_INFO_BY_FD, attr);
            info = new BpfMapInfo(
                BinaryPrimitives.ReadUInt32LittleEndian(buffer),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[12..]),
                BinaryPrimitives.ReadUInt32LittleEndian(buffer[16..]),
                CString(buffer.Slice(24, ObjectNameLength)));
            return r;
        }
    }

    /// <summary>
    /// BPF_PROG_TEST_RUN once on <paramref name="data"/> (for a CGROUP_SKB program: an Ethernet
    /// frame; the program sees the packet from its network header on). <paramref name="result"/> is
    /// the program's return value.
    /// </summary>
    public static int BpfProgTestRun(int progFd, ReadOnlySpan<byte> data, out uint result)
    {
        Span<byte> attr = stackalloc byte[AttrSize];
        attr.Clear();
        fixed (byte* d = data)
        {
            U32(attr, 0, (uint)progFd);
            U32(attr, 8, (uint)data.Length);
            U64(attr, 16, (ulong)d);
            U32(attr, 32, 1); // repeat
            int r = Bpf(BPF_PROG_TEST_RUN, attr);
            result = BinaryPrimitives.ReadUInt32LittleEndian(attr[4..]);
            return r;
        }
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? bytes : bytes[..end]);
    }
}
