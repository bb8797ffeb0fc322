using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>System V IPC removal: shmctl(2), semctl(2), msgctl(2) with IPC_RMID.</summary>
public static unsafe partial class Libc
{
    public const int IPC_RMID = 0;
    /// <summary>The object was removed meanwhile (asm-generic/errno.h).</summary>
    public const int EIDRM = 43;

    [LibraryImport("libc", EntryPoint = "shmctl", SetLastError = true)]
    private static partial int shmctl(int shmid, int cmd, void* buf);

    // semctl is variadic; IPC_RMID reads no fourth argument, and passing one integer word in its
    // place is how every caller on the SysV ABIs (x86-64, arm64) calls it.
    [LibraryImport("libc", EntryPoint = "semctl", SetLastError = true)]
    private static partial int semctl(int semid, int semnum, int cmd, nint arg);

    [LibraryImport("libc", EntryPoint = "msgctl", SetLastError = true)]
    private static partial int msgctl(int msqid, int cmd, void* buf);

    /// <summary>IPC_RMID of a shared memory segment (destroyed once the last process detaches); 0 or the errno.</summary>
    public static int RemoveSharedMemory(int id) => shmctl(id, IPC_RMID, null) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>IPC_RMID of a semaphore set; 0 or the errno.</summary>
    public static int RemoveSemaphores(int id) => semctl(id, 0, IPC_RMID, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>IPC_RMID of a message queue; 0 or the errno.</summary>
    public static int RemoveMessageQueue(int id) => msgctl(id, IPC_RMID, null) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
