using System.Runtime.InteropServices;
using Supervisor.Linux;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// Starts the output fd holder, <c>supervisor-holder SOCKET</c> (src/helper/hold.c), detached
/// from our stdio. The one place that knows the holder's binary and command line; its protocol
/// on the socket is the client's (Supervisor.Cli's FdHolder).
/// </summary>
public static class FdHolderProcess
{
    /// <param name="holderPath">The holder binary; null finds it with <see cref="HelperLocator.FindHolder"/>.</param>
    /// <returns>The holder's pid (our child until it is reaped or we exit).</returns>
    public static int Start(string socketPath, string? holderPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        holderPath ??= HelperLocator.FindHolder();
        // stdin, stdout, stderr from /dev/null (-1): the holder outlives us and must not hold our terminal or logs.
        int pid = PosixSpawn.Spawn(holderPath, [HelperLocator.HolderFileName, socketPath],
            [new(-1, 0, false), new(-1, 1, true), new(-1, 2, true)], out int errno);
        if (pid < 0)
            throw new IOException($"cannot start the fd holder '{holderPath}': {Marshal.GetPInvokeErrorMessage(errno)}");
        return pid;
    }
}
