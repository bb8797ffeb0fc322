using System.Runtime.InteropServices;

namespace Supervisor.DBus.Interop;

internal static partial class Libc
{
    /// <summary>fchmod(2); on an unbound AF_UNIX socket it sets the mode bind() gives the socket file.</summary>
    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(SafeHandle fd, uint mode);
}
