using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>An owned file descriptor (a pipe end, a pidfd, a memfd); fd 0 is valid, -1 is not.</summary>
public sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(new IntPtr(-1), ownsHandle: true) { }

    public SafeFdHandle(int fd, bool ownsHandle = true) : base(new IntPtr(-1), ownsHandle) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    public int Fd => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => Libc.close(Fd) == 0;
}
