using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>setns(2), and gethostname(2) to read the UTS namespace a thread has joined.</summary>
public static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "gethostname", SetLastError = true)]
    public static partial int GetHostname(byte* name, nuint len);
}
