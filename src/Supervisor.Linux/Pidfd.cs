using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>pidfds: a handle on one process that cannot be confused with a recycled pid.</summary>
public static unsafe class Pidfd
{
    public static SafeFd Open(int pid)
    {
        int fd = Libc.PidfdOpen(pid, 0);
        if (fd < 0)
            throw new IOException($"pidfd_open {pid} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new SafeFd(fd);
    }

    /// <summary>Sends a signal; false when the process has already exited (ESRCH is the expected race).</summary>
    public static bool Signal(SafeFd pidfd, int sig)
    {
        if (Libc.PidfdSendSignal(pidfd.Fd, sig) == 0)
            return true;
        int e = Marshal.GetLastPInvokeError();
        if (e == Errno.ESRCH)
            return false;
        throw new IOException($"pidfd_send_signal {sig} failed: {Marshal.GetPInvokeErrorMessage(e)}");
    }

    /// <summary>Waits until the pidfd is readable (the process exited) or the timeout passes.</summary>
    public static bool PollExited(SafeFd pidfd, int timeoutMs)
    {
        var p = new Libc.PollFd { Fd = pidfd.Fd, Events = Libc.POLLIN };
        for (;;)
        {
            int r = Libc.Poll(&p, 1, timeoutMs);
            if (r >= 0)
                return r > 0;
            int e = Marshal.GetLastPInvokeError();
            if (e != Errno.EINTR)
                throw new IOException($"poll on pidfd failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
    }

    /// <summary>waitid(P_PIDFD): reaps the process; null with <paramref name="noHang"/> while it still runs.</summary>
    public static ExitInfo? Wait(SafeFd pidfd, bool noHang)
    {
        Libc.SigInfo info;
        while (Libc.WaitId(Libc.P_PIDFD, pidfd.Fd, out info, Libc.WEXITED | (noHang ? Libc.WNOHANG : 0)) != 0)
        {
            int e = Marshal.GetLastPInvokeError();
            if (e != Errno.EINTR)
                throw new IOException($"waitid on pidfd failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
        return info.Pid == 0 ? null : ExitInfo.FromSigInfo(info);
    }
}
