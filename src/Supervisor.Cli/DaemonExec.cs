using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Cli;

/// <summary>
/// Where `supervisor run` runs the daemon. In the JIT and ReadyToRun builds, in this process. In
/// the NativeAOT client install.sh installs (contrib/publish.sh), the daemon is a binary of its
/// own, supervisord, next to this one, and `run` becomes it (execv: the same pid, stdio and
/// arguments): the commands an operator types all day then carry none of the daemon's code
/// (hosting, Kestrel), which made every start of theirs pay for it (issue 18).
/// </summary>
internal static class DaemonExec
{
    /// <summary>The feature switch the client publish sets to false (Supervisor.Cli.csproj, SupervisorClientOnly).</summary>
    public const string Switch = "Supervisor.Cli.DaemonInProcess";

    /// <summary>The daemon binary's file name, beside `supervisor`.</summary>
    public const string FileName = "supervisord";

    /// <summary>False in the client-only build: the compiler then drops the in-process daemon and all it uses.</summary>
    [FeatureSwitchDefinition(Switch)]
    public static bool InProcess => !AppContext.TryGetSwitch(Switch, out var on) || on;

    /// <summary>Becomes supervisord with this process's own arguments; returns only when that failed (exit 1, one line).</summary>
    public static int Become(TextWriter error)
    {
        var path = Path.Combine(AppContext.BaseDirectory, FileName);
        // argv[0] as this process got it, so the daemon's messages and help say `supervisor run`.
        int errno = Libc.Execv(path, Environment.GetCommandLineArgs());
        error.WriteLine($"supervisor: cannot start the daemon '{path}': {Marshal.GetPInvokeErrorMessage(errno)} (it is installed beside the supervisor command: run install.sh again)");
        return ExitCodes.Failure;
    }
}
