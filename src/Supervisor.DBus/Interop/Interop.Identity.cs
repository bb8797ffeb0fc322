using System.Runtime.InteropServices;

namespace Supervisor.DBus.Interop;

internal static partial class Libc
{
    /// <summary>geteuid(2): the uid a client claims in AUTH EXTERNAL (never fails).</summary>
    [LibraryImport("libc", EntryPoint = "geteuid", SetLastError = true)]
    public static partial uint GetEUid();
}
