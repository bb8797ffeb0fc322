using System.Runtime.InteropServices;
using Supervisor.Sandbox.Interop;

namespace Supervisor.Sandbox.Launch;

/// <summary>Starts the helper in its fd-holding mode (<c>supervisor-helper --hold SOCKET</c>), detached from our stdio.</summary>
public static class FdHolderProcess
{
    public static int Start(string socketPath, string? helperPath = null)
    {
        helperPath ??= HelperLocator.Find();
        // stdin, stdout, stderr from /dev/null (-1): the holder outlives us and must not hold our terminal or logs.
        int pid = PosixSpawn.Spawn(helperPath, [HelperLocator.FileName, "--hold", socketPath],
            [new(-1, 0, false), new(-1, 1, true), new(-1, 2, true)], out int errno);
        if (pid < 0)
            throw new IOException($"cannot start '{helperPath} --hold': {Marshal.GetPInvokeErrorMessage(errno)}");
        return pid;
    }
}
