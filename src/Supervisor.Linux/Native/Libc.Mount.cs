using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>mount(2) and umount2(2): the supervisor's own mounts on the host (a unit's credentials ramfs).</summary>
public static partial class Libc
{
    public const ulong MS_NOSUID = 0x2;
    public const ulong MS_NODEV = 0x4;
    public const ulong MS_NOEXEC = 0x8;
    public const int MNT_DETACH = 0x2;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fsType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);
}
