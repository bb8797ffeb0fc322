using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Files;

/// <summary>What statx(2) says about a file: its owner and its type and permission bits.</summary>
public readonly record struct FileStatus(uint Uid, uint Mode)
{
    private const uint TypeMask = 0xF000;   // S_IFMT

    public bool IsRegular => (Mode & TypeMask) == 0x8000;      // S_IFREG
    public bool IsDirectory => (Mode & TypeMask) == 0x4000;    // S_IFDIR
    public bool IsSymlink => (Mode & TypeMask) == 0xA000;      // S_IFLNK
    public bool IsSocket => (Mode & TypeMask) == 0xC000;       // S_IFSOCK

    /// <summary>The permission bits, e.g. 0644.</summary>
    public uint Permissions => Mode & 0xFFF;

    /// <summary>The file type in words, for "is a FIFO, not a regular file".</summary>
    public string TypeName => (Mode & TypeMask) switch
    {
        0x8000 => "regular file",
        0x4000 => "directory",
        0xA000 => "symbolic link",
        0x1000 => "FIFO (named pipe)",
        0xC000 => "socket",
        0x2000 => "character device",
        0x6000 => "block device",
        _ => $"file of unknown type 0{Convert.ToString(Mode & TypeMask, 8)}",
    };
}

/// <summary>Which file a path is: its device and inode, to tell whether two paths are the same file.</summary>
public readonly record struct FileIdentity(ulong Dev, ulong Ino);

/// <summary>
/// statx(2), for the owner, type and mode of unit files, and the identity of files. .NET exposes the mode
/// (File.GetUnixFileMode) but not the owner. statx is used rather than stat because its struct
/// layout is the same on every architecture.
/// </summary>
public static class Statx
{
    public static uint GetEuid() => Libc.GetEuid();

    /// <summary>Owner and mode of <paramref name="path"/>; symlinks followed unless <paramref name="follow"/> is false.</summary>
    public static bool TryGet(string path, bool follow, out FileStatus status, out int errno) =>
        Call(Libc.AT_FDCWD, path, follow ? 0 : Libc.AT_SYMLINK_NOFOLLOW, out status, out errno);

    /// <summary>Owner and mode of an open file descriptor (fstat).</summary>
    public static bool TryGet(SafeHandle fd, out FileStatus status, out int errno)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            return Call((int)fd.DangerousGetHandle(), "", Libc.AT_EMPTY_PATH, out status, out errno);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    /// <summary>Device and inode of <paramref name="path"/> (symlinks followed), or null when it cannot be stat'ed.</summary>
    public static FileIdentity? Identity(string path)
    {
        if (Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_INO, out var buf) != 0)
            return null;
        return new FileIdentity(((ulong)buf.DevMajor << 32) | buf.DevMinor, buf.Ino);
    }

    /// <summary>The modification time of <paramref name="path"/> itself (a symlink is not followed, as lstat), in seconds and nanoseconds.</summary>
    public static (long Seconds, uint Nanoseconds) ModificationTime(string path)
    {
        if (Libc.StatX(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_MTIME, out var buf) != 0)
            throw new IOException($"statx {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return (buf.MtimeSec, buf.MtimeNsec);
    }

    private static bool Call(int dirfd, string path, int flags, out FileStatus status, out int errno)
    {
        if (Libc.StatX(dirfd, path, flags, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID, out var buf) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            status = default;
            return false;
        }
        errno = 0;
        status = new FileStatus(buf.Uid, buf.Mode);
        return true;
    }
}
