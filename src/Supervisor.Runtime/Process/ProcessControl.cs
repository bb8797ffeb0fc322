using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Runtime.Process;

/// <summary>Process-wide settings of the daemon, and signals by pid.</summary>
public static class ProcessControl
{
    /// <summary>Orphans of our services (double-forked daemons) are reparented to us, not to PID 1.</summary>
    public static void BecomeSubreaper()
    {
        if (Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw new IOException($"prctl(PR_SET_CHILD_SUBREAPER) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>kill(2); ESRCH (already gone) is not an error: the process exited meanwhile.</summary>
    public static void Signal(int pid, int sig) => Libc.Kill(pid, sig);

    /// <summary>The soft and hard limit on open file descriptors.</summary>
    public static (ulong Soft, ulong Hard) FdLimit()
    {
        if (Libc.GetRlimit(Libc.RLIMIT_NOFILE, out var l) != 0)
            throw new IOException($"getrlimit(RLIMIT_NOFILE): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (l.Cur, l.Max);
    }

    /// <summary>Raises the soft limit on open files to the hard limit (needs no privilege); returns the new soft limit.</summary>
    public static ulong RaiseFdLimit()
    {
        var (soft, hard) = FdLimit();
        if (soft >= hard) return soft;
        return Libc.SetRlimit(Libc.RLIMIT_NOFILE, new Libc.RLimit { Cur = hard, Max = hard }) == 0 ? hard : soft;
    }
}
