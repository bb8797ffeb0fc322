using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// Which Landlock ABI this kernel offers (landlock.h's "ABI version"): 0 when there is none,
/// because the kernel was built without it (ENOSYS) or Landlock is not in the lsm= list it booted
/// with (EOPNOTSUPP). Each ABI adds rights: 2 file reparenting (REFER), 3 TRUNCATE, 4 TCP
/// bind/connect ports, 5 IOCTL_DEV, 6 scoping of abstract unix sockets and signals, 7 audit logging.
/// </summary>
public static class Landlock
{
    /// <summary>The ABI, detected once per process: the kernel does not change under us.</summary>
    public static int Abi => Detected.Value;

    /// <summary>Why <see cref="Abi"/> is 0, in words; null when Landlock is available.</summary>
    public static string? Unavailable => Reason.Value;

    private static readonly Lazy<(int Abi, int Errno)> Probe = new(() =>
    {
        int abi = Libc.LandlockAbiVersion();
        return abi > 0 ? (abi, 0) : (0, Marshal.GetLastPInvokeError());
    });

    private static readonly Lazy<int> Detected = new(() => Probe.Value.Abi);

    private static readonly Lazy<string?> Reason = new(() => Probe.Value switch
    {
        { Abi: > 0 } => null,
        { Errno: Errno.ENOSYS } => "this kernel was built without Landlock (landlock_create_ruleset: ENOSYS)",
        { Errno: Errno.EOPNOTSUPP } => "Landlock is not enabled on this kernel (landlock_create_ruleset: EOPNOTSUPP; it is missing from the lsm= boot parameter)",
        var p => $"landlock_create_ruleset failed: {Marshal.GetPInvokeErrorMessage(p.Errno)}",
    });
}
