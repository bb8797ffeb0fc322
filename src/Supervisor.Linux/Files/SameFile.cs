using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Files;

/// <summary>
/// Whether two of this process's descriptors are one open file (systemd's same_fd(), which keeps
/// the fd store from holding one file twice): kcmp(KCMP_FILE), or where the kernel has no kcmp
/// (CONFIG_CHECKPOINT_RESTORE off, or EPERM under a seccomp filter) the same inode on the same device.
/// </summary>
public static class SameFile
{
    public static bool Of(SafeHandle a, SafeHandle b)
    {
        int fa = (int)a.DangerousGetHandle(), fb = (int)b.DangerousGetHandle();
        if (fa == fb) return true;
        int r = Libc.Kcmp(Environment.ProcessId, Environment.ProcessId, Libc.KCMP_FILE, fa, fb);
        if (r >= 0) return r == 0;
        var ia = Statx.Identity($"/proc/self/fd/{fa}");
        return ia is not null && ia == Statx.Identity($"/proc/self/fd/{fb}");
    }
}
