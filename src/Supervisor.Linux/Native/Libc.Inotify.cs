using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

public static partial class Libc
{
    public const int IN_CLOEXEC = 0x80000;
    public const int IN_NONBLOCK = 0x800;
    public const uint IN_MODIFY = 0x2;
    public const uint IN_ATTRIB = 0x4;
    public const uint IN_CLOSE_WRITE = 0x8;
    public const uint IN_MOVED_FROM = 0x40;
    public const uint IN_MOVED_TO = 0x80;
    public const uint IN_CREATE = 0x100;
    public const uint IN_DELETE = 0x200;
    public const uint IN_DELETE_SELF = 0x400;
    public const uint IN_MOVE_SELF = 0x800;
    public const uint IN_Q_OVERFLOW = 0x4000;
    public const uint IN_IGNORED = 0x8000;
    public const uint IN_ONLYDIR = 0x1000000;
    public const uint IN_ISDIR = 0x40000000;

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    public static partial int InotifyRmWatch(int fd, int wd);
}
