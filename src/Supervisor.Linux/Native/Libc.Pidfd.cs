using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>pidfds: a handle on one process that cannot be confused with a recycled pid.</summary>
public static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    public static partial int PidfdOpen(int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "pidfd_send_signal", SetLastError = true)]
    private static partial int pidfd_send_signal(int pidfd, int sig, void* info, uint flags);

    public static int PidfdSendSignal(int pidfd, int sig) => pidfd_send_signal(pidfd, sig, null, 0);
}
