using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>seccomp_unotify(2): the ioctls of a seccomp filter's listener (include/uapi/linux/seccomp.h).</summary>
public static unsafe partial class Libc
{
    /// <summary>_IOWR('!', 0, struct seccomp_notif): 80 bytes.</summary>
    public const uint SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
    /// <summary>_IOWR('!', 1, struct seccomp_notif_resp): 24 bytes.</summary>
    public const uint SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
    /// <summary>_IOW('!', 2, __u64): whether the notification's task still waits for it.</summary>
    public const uint SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;
    public const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

    /// <summary>struct seccomp_notif, with its struct seccomp_data inline.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotif
    {
        public ulong Id;
        public uint Pid;
        public uint Flags;
        public int Nr;
        public uint Arch;
        public ulong InstructionPointer;
        public fixed ulong Args[6];
    }

    /// <summary>struct seccomp_notif_resp.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotifResp
    {
        public ulong Id;
        public long Val;
        public int Error;
        public uint Flags;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* argument);

    /// <summary>ioctl(2) with a pointer argument on <paramref name="fd"/>.</summary>
    public static int Ioctl(SafeHandle fd, uint request, void* argument)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            return ioctl((int)fd.DangerousGetHandle(), request, argument);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }
}
