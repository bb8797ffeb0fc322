using Microsoft.Win32.SafeHandles;

namespace Supervisor.Cgroups.Interop;

/// <summary>An owned file descriptor (cgroup file, eventfd, inotify instance), closed exactly once.</summary>
internal sealed class SafeFd : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeFd() : base(ownsHandle: true) { }

    internal SafeFd(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    // fd 0 is a valid descriptor; only -1 means "no fd".
    public override bool IsInvalid => handle == new IntPtr(-1);
}
