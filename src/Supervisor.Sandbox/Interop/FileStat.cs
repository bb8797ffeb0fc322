using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>statx(2) for device and inode, to tell whether two paths are the same directory.</summary>
internal static unsafe partial class FileStat
{
    private const int AT_FDCWD = -100;
    private const uint STATX_INO = 0x100;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    public static (ulong Dev, ulong Ino)? DevIno(string path)
    {
        byte* buf = stackalloc byte[256];
        if (statx(AT_FDCWD, path, 0, STATX_INO, buf) < 0)
            return null;
        // struct statx: stx_ino at 32; stx_dev_major at 136, stx_dev_minor at 140.
        ulong ino = *(ulong*)(buf + 32);
        ulong dev = ((ulong)*(uint*)(buf + 136) << 32) | *(uint*)(buf + 140);
        return (dev, ino);
    }
}
