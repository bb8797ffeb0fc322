using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

public static partial class Libc
{
    public const uint MFD_CLOEXEC = 1;

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);
}
