using System.Runtime.InteropServices;

namespace Supervisor.Units.Interop;

/// <summary>
/// statx(2), for the owner and mode of unit files. .NET exposes the mode (File.GetUnixFileMode)
/// but not the owner. statx is used rather than stat because its struct layout is the same on
/// every architecture.
/// </summary>
internal static partial class Statx
{
    private const int AtFdCwd = -100;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    /// <summary>Owner uid and permission bits of <paramref name="path"/> (symlinks followed), or the errno.</summary>
    public static bool TryGet(string path, out uint uid, out uint mode, out int errno)
    {
        if (StatxNative(AtFdCwd, path, 0, StatxMode | StatxUid, out var buf) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            uid = mode = 0;
            return false;
        }
        errno = 0;
        uid = buf.Uid;
        mode = buf.Mode;
        return true;
    }
}
