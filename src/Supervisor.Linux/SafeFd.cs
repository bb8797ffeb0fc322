using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>An owned file descriptor (cgroup file, eventfd, inotify instance), closed exactly once.</summary>
public sealed class SafeFd : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeFd() : base(ownsHandle: true) { }

    public SafeFd(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    // fd 0 is a valid descriptor; only -1 means "no fd".
    public override bool IsInvalid => handle == new IntPtr(-1);
}
