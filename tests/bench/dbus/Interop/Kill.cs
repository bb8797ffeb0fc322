using System.Runtime.InteropServices;

namespace Supervisor.DBus.Bench.Interop;

internal static partial class Kill
{
    public const int SIGTERM = 15;

    // Process.Kill sends SIGKILL; the supervisor needs SIGTERM to stop its units and remove its
    // cgroups, and dbus-daemon to remove its socket.
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if it has already exited (ESRCH).</summary>
    public static bool Send(int pid, int signal)
    {
        if (SysKill(pid, signal) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        // Don't throw if the process has exited meanwhile: that is what we wanted.
        if (errno == 3 /* ESRCH */) return false;
        throw new InvalidOperationException($"kill({pid}, {signal}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
