using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>landlock_create_ruleset(2): glibc has no wrapper, so it goes through syscall(2).</summary>
public static partial class Libc
{
    /// <summary>The same number on every architecture (syscalls added after 5.1 share one table).</summary>
    private const long SYS_landlock_create_ruleset = 444;
    public const uint LANDLOCK_CREATE_RULESET_VERSION = 1;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallLandlockCreateRuleset(long number, nint attr, nuint size, uint flags);

    /// <summary>landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the highest ABI, or -1 with errno set.</summary>
    public static int LandlockAbiVersion() =>
        (int)SyscallLandlockCreateRuleset(SYS_landlock_create_ruleset, 0, 0, LANDLOCK_CREATE_RULESET_VERSION);
}
