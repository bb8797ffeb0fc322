using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>pidfds: a handle on one process that cannot be confused with a recycled pid.</summary>
internal static unsafe partial class Pidfd
{
    private const int P_PIDFD = 3;
    private const int WEXITED = 4;
    private const int WNOHANG = 1;
    private const short POLLIN = 1;
    public const int CLD_EXITED = 1;

    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    private static partial int pidfd_open(int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "pidfd_send_signal", SetLastError = true)]
    private static partial int pidfd_send_signal(int pidfd, int sig, void* info, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitid(int idtype, int id, byte* infop, int options);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint nfds, int timeout);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    public static SafeFdHandle Open(int pid)
    {
        int fd = pidfd_open(pid, 0);
        if (fd < 0)
            throw new IOException($"pidfd_open {pid} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new SafeFdHandle(fd);
    }

    /// <summary>Sends a signal; false when the process has already exited (ESRCH is the expected race).</summary>
    public static bool Signal(SafeFdHandle pidfd, int sig)
    {
        if (pidfd_send_signal(pidfd.Fd, sig, null, 0) == 0)
            return true;
        int e = Marshal.GetLastPInvokeError();
        if (e == Libc.ESRCH)
            return false;
        throw new IOException($"pidfd_send_signal {sig} failed: {Marshal.GetPInvokeErrorMessage(e)}");
    }

    /// <summary>Waits until the pidfd is readable (the process exited) or the timeout passes.</summary>
    public static bool PollExited(SafeFdHandle pidfd, int timeoutMs)
    {
        var p = new PollFd { Fd = pidfd.Fd, Events = POLLIN };
        for (;;)
        {
            int r = poll(&p, 1, timeoutMs);
            if (r >= 0)
                return r > 0;
            int e = Marshal.GetLastPInvokeError();
            if (e != Libc.EINTR)
                throw new IOException($"poll on pidfd failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
    }

    /// <summary>waitid(P_PIDFD): reaps the process; returns (si_code, si_status) or null with WNOHANG and no exit yet.</summary>
    public static (int Code, int Status)? Wait(SafeFdHandle pidfd, bool noHang)
    {
        byte* info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        for (;;)
        {
            if (waitid(P_PIDFD, pidfd.Fd, info, WEXITED | (noHang ? WNOHANG : 0)) == 0)
                break;
            int e = Marshal.GetLastPInvokeError();
            if (e != Libc.EINTR)
                throw new IOException($"waitid on pidfd failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
        // siginfo_t on x86_64: si_signo@0, si_errno@4, si_code@8, si_pid@16, si_uid@20, si_status@24.
        int pid = *(int*)(info + 16);
        if (pid == 0)
            return null;
        return (*(int*)(info + 8), *(int*)(info + 24));
    }
}
