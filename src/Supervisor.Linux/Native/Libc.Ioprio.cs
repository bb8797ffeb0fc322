using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>ioprio_get(2): glibc has no wrapper, so it goes through syscall(2).</summary>
public static partial class Libc
{
    private const long SYS_ioprio_get = 252; // x86_64; arm64 is 31
    private const long SYS_ioprio_get_arm64 = 31;
    public const int IOPRIO_WHO_PROCESS = 1;
    public const int IOPRIO_CLASS_SHIFT = 13;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallIoprio(long number, long which, long who);

    /// <summary>The I/O priority of process <paramref name="pid"/> (class &lt;&lt; 13 | data), or -1 with errno set.</summary>
    public static int IoprioGet(int pid) =>
        (int)SyscallIoprio(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SYS_ioprio_get_arm64 : SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid);
}
