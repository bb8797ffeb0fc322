using System.Runtime.InteropServices;

namespace Supervisor.DBus.Interop;

internal static unsafe partial class Libc
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 0x1;
    private const int S_IFMT = 0xF000;
    private const int S_IFSOCK = 0xC000;
    // struct statx is the same on every architecture (unlike struct stat): stx_mode is the
    // __u16 at offset 28, and the whole struct is 256 bytes.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>True when <paramref name="path"/> itself (not a symlink target) is a socket; false if it is missing.</summary>
    public static bool IsSocket(string path, out bool exists)
    {
        byte* buffer = stackalloc byte[StatxSize];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, buffer) != 0)
        {
            exists = false;
            return false;
        }
        exists = true;
        ushort mode = *(ushort*)(buffer + StatxModeOffset);
        return (mode & S_IFMT) == S_IFSOCK;
    }
}
