using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

public static partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;
    public const uint STATX_MTIME = 0x40;
    public const uint STATX_INO = 0x100;
    public const ushort S_IFMT = 0xF000;
    public const ushort S_IFBLK = 0x6000;

    // struct statx has the same layout on every architecture (unlike struct stat), so one
    // definition serves x86-64 and arm64. Offsets from include/uapi/linux/stat.h.
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(112)] public long MtimeSec;
        [FieldOffset(120)] public uint MtimeNsec;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatX(int dirfd, string path, int flags, uint mask, out Statx buf);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();
}
