using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Files;

/// <summary>The managed side of mount(2), umount2(2), lchown(2) and statx(2) for owners: failures as <see cref="IOException"/> naming the operation, the path and the errno.</summary>
public static class HostFiles
{
    /// <summary>Mounts a new instance of FSTYPE (nosuid, nodev, noexec) on TARGET with DATA as its options.</summary>
    public static void MountNew(string fsType, string target, string data)
    {
        if (Libc.Mount(fsType, target, fsType, Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, data) < 0)
            throw Failure($"mount {fsType} on '{target}'");
    }

    /// <summary>Detaches whatever is mounted on TARGET; false when nothing is (EINVAL) or TARGET is gone (ENOENT).</summary>
    public static bool Unmount(string target)
    {
        if (Libc.Umount2(target, Libc.MNT_DETACH) == 0)
            return true;
        int e = Marshal.GetLastPInvokeError();
        if (e is Errno.EINVAL or Errno.ENOENT)
            return false;
        throw new IOException($"umount '{target}' failed: {Errno.Name(e)}");
    }

    /// <summary>lchown(2): PATH itself, a symbolic link as the link.</summary>
    public static void Chown(string path, uint uid, uint gid)
    {
        if (Libc.Lchown(path, uid, gid) < 0)
            throw Failure($"chown {uid}:{gid} '{path}'");
    }

    /// <summary>The uid and gid owning PATH (not following a symbolic link), or null when it cannot be stat'ed.</summary>
    public static (uint Uid, uint Gid)? Owner(string path)
    {
        const uint StatxGid = 0x10;
        if (Libc.StatX(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_UID | StatxGid, out var buf) != 0)
            return null;
        return (buf.Uid, buf.Gid);
    }

    private static IOException Failure(string operation) =>
        new($"{operation} failed: {Errno.Name(Marshal.GetLastPInvokeError())}");
}
