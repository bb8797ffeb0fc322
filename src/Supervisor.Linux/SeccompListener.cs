using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>One call a seccomp filter reported (struct seccomp_notif): the caller's thread id as we see it, the call and its arguments.</summary>
public sealed record SeccompNotification(ulong Id, int Pid, int Nr, uint Arch, ulong[] Args)
{
    /// <summary>The call's name on its ABI ("keyctl"), or "syscall N" where libseccomp has no name.</summary>
    public string SyscallName => Libseccomp.SyscallResolveNumArch(Arch, Nr) ?? $"syscall {Nr}";
}

/// <summary>
/// The supervisor's end of a seccomp filter's listener (seccomp_unotify(2)). Every reported call
/// waits in the kernel until it is answered here: with an errno, with "go ahead"
/// (SECCOMP_USER_NOTIF_FLAG_CONTINUE), or by the caller dying. A reported task can die (or its
/// pid be reused) between the receive and anything we do about its pid: <see cref="IsValid"/>
/// checks the notification still waits, which is what makes a pid read after the receive
/// trustworthy (the kernel's own advice in seccomp_unotify(2), "Caveats regarding ID_VALID").
/// </summary>
public static unsafe class SeccompListener
{
    /// <summary>True when a notification waits (the ioctl that receives one blocks otherwise, whatever O_NONBLOCK says).</summary>
    public static bool HasPending(SafeHandle listener)
    {
        bool added = false;
        listener.DangerousAddRef(ref added);
        try
        {
            var p = new Libc.PollFd { Fd = (int)listener.DangerousGetHandle(), Events = Libc.POLLIN };
            return Libc.Poll(&p, 1, 0) == 1 && (p.Revents & Libc.POLLIN) != 0;
        }
        finally
        {
            if (added) listener.DangerousRelease();
        }
    }

    /// <summary>
    /// Receives one notification; null when the one that was pending is gone (its task was killed
    /// before we read it: ENOENT) or the wait was interrupted.
    /// </summary>
    public static SeccompNotification? Receive(SafeHandle listener)
    {
        var n = default(Libc.SeccompNotif); // the kernel refuses a buffer that is not zeroed
        if (Libc.Ioctl(listener, Libc.SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Errno.ENOENT or Errno.EINTR) return null;
            throw new IOException($"ioctl(SECCOMP_IOCTL_NOTIF_RECV) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var args = new ulong[6];
        for (int i = 0; i < 6; i++) args[i] = n.Args[i];
        return new SeccompNotification(n.Id, (int)n.Pid, n.Nr, n.Arch, args);
    }

    /// <summary>Fails the call with <paramref name="errno"/>; false if its task no longer waits (ENOENT).</summary>
    public static bool Fail(SafeHandle listener, ulong id, int errno) => Send(listener, new Libc.SeccompNotifResp { Id = id, Error = -errno });

    /// <summary>Lets the call go ahead as if the filter had allowed it; false if its task no longer waits.</summary>
    public static bool Continue(SafeHandle listener, ulong id) => Send(listener, new Libc.SeccompNotifResp { Id = id, Flags = Libc.SECCOMP_USER_NOTIF_FLAG_CONTINUE });

    /// <summary>Whether the notification's task still waits for the answer (and so its pid is still that task's).</summary>
    public static bool IsValid(SafeHandle listener, ulong id) => Libc.Ioctl(listener, Libc.SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;

    private static bool Send(SafeHandle listener, Libc.SeccompNotifResp response)
    {
        if (Libc.Ioctl(listener, Libc.SECCOMP_IOCTL_NOTIF_SEND, &response) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        // ENOENT: the task was killed while we answered (an expected race, not an error).
        if (errno == Errno.ENOENT) return false;
        throw new IOException($"ioctl(SECCOMP_IOCTL_NOTIF_SEND) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
