using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>prctl(2), waitid(2), waitpid(2) and the rlimits of the calling process.</summary>
public static unsafe partial class Libc
{
    public const int PR_SET_CHILD_SUBREAPER = 36;
    public const int P_ALL = 0, P_PID = 1, P_PIDFD = 3;
    public const int WEXITED = 4, WNOHANG = 1, WNOWAIT = 0x01000000;
    public const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;
    public const int RLIMIT_NOFILE = 7;

    /// <summary>siginfo_t for SIGCHLD (x86_64/arm64 layout): signo, errno, code, then pid, uid, status.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public int Status;
    }

    public struct RLimit
    {
        public ulong Cur;
        public ulong Max;
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    private static partial int waitid(int idtype, int id, SigInfo* info, int options);

    public static int WaitId(int idtype, int id, out SigInfo info, int options)
    {
        SigInfo i = default;
        int r = waitid(idtype, id, &i, options);
        info = i;
        return r;
    }

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);

    /// <summary>Reaps a child, retrying on EINTR; returns the raw wait status.</summary>
    public static int Reap(int pid)
    {
        int status;
        for (;;)
        {
            if (waitpid(pid, &status, 0) >= 0)
                return status;
            int e = Marshal.GetLastPInvokeError();
            if (e != Errno.EINTR)
                throw new IOException($"waitpid {pid} failed: {Marshal.GetPInvokeErrorMessage(e)}");
        }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int GetRlimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    public static partial int SetRlimit(int resource, in RLimit limit);
}
