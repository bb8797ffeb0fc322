using System.Runtime.InteropServices;

namespace Supervisor.Runtime.Interop;

/// <summary>Process-wide calls the daemon makes: child subreaper, peeking and reaping children, kill.</summary>
internal static unsafe partial class ProcessCalls
{
    private const int PR_SET_CHILD_SUBREAPER = 36;
    private const int P_ALL = 0;
    private const int WEXITED = 4;
    private const int WNOHANG = 1;
    private const int WNOWAIT = 0x01000000;
    public const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitid(int idtype, int id, SigInfo* info, int options);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    // siginfo_t for SIGCHLD (x86_64/arm64 layout): signo, errno, code, then pid, uid, status.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct SigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public int Status;
    }

    /// <summary>Orphans of our services (double-forked daemons) are reparented to us, not to PID 1.</summary>
    public static void BecomeSubreaper()
    {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw new IOException($"prctl(PR_SET_CHILD_SUBREAPER) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    public const int ECHILD = 10, EINTR = 4;

    /// <summary>
    /// Blocks until some child has exited, without reaping it (WNOWAIT). Returns 0, or the errno:
    /// ECHILD when there is no child at all.
    /// </summary>
    public static int WaitForAnyExit()
    {
        SigInfo info = default;
        return waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Reaps one exited child if any: its pid, si_code and status (exit code or signal).</summary>
    public static bool TryReapAny(out int pid, out int code, out int status, Func<int, bool> mayReap)
    {
        SigInfo info = default;
        pid = code = status = 0;
        // WNOWAIT first: see who exited without reaping, so a child someone else waits for by pidfd
        // (the sandbox launcher, after a failed setup) is left alone.
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.Pid == 0) return false;
        int target = info.Pid;
        if (!mayReap(target)) return false;
        info = default;
        const int P_PID = 1;
        if (waitid(P_PID, target, &info, WEXITED | WNOHANG) != 0 || info.Pid == 0) return false;
        pid = info.Pid;
        code = info.Code;
        status = info.Status;
        return true;
    }

    /// <summary>kill(2); ESRCH (already gone) is not an error: the process exited meanwhile.</summary>
    public static void Signal(int pid, int sig) => kill(pid, sig);
}

/// <summary>RLIMIT_NOFILE of the daemon itself.</summary>
internal static unsafe partial class FdLimitCalls
{
    private const int RLIMIT_NOFILE = 7;

    private struct RLimit
    {
        public ulong Cur;
        public ulong Max;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, RLimit* limit);

    /// <summary>The soft and hard limit on open file descriptors.</summary>
    public static (ulong Soft, ulong Hard) Get()
    {
        RLimit l = default;
        if (getrlimit(RLIMIT_NOFILE, &l) != 0) throw new IOException($"getrlimit(RLIMIT_NOFILE): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (l.Cur, l.Max);
    }

    /// <summary>Raises the soft limit to the hard limit (needs no privilege); returns the new soft limit.</summary>
    public static ulong RaiseSoftToHard()
    {
        var (soft, hard) = Get();
        if (soft >= hard) return soft;
        RLimit l = new() { Cur = hard, Max = hard };
        return setrlimit(RLIMIT_NOFILE, &l) == 0 ? hard : soft;
    }
}
