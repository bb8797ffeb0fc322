using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>kcmp(2): glibc has no wrapper, so it goes through syscall(2).</summary>
public static partial class Libc
{
    private const long SYS_kcmp = 312; // x86_64
    private const long SYS_kcmp_arm64 = 272;
    public const int KCMP_FILE = 0;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallKcmp(long number, long pid1, long pid2, long type, long idx1, long idx2);

    /// <summary>0 when the two descriptors of the two processes share one open file description; 1 or 2 (an order) when not; -1 with errno set.</summary>
    public static int Kcmp(int pid1, int pid2, int type, int fd1, int fd2) =>
        (int)SyscallKcmp(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SYS_kcmp_arm64 : SYS_kcmp, pid1, pid2, type, fd1, fd2);
}
