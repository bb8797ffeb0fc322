using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>lchown(2): .NET has no chown; the per-unit directories are given to the service's user.</summary>
public static partial class Libc
{
    /// <summary>Changes the owner of PATH itself, never of what a symbolic link there points at.</summary>
    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, uint owner, uint group);
}
