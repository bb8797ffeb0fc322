using System.Globalization;
using System.Net.Sockets;
using Supervisor.Linux.Proc;

namespace Supervisor.Cli.Commands;

/// <summary>
/// What a daemon that does not answer is doing, as far as the client can tell from outside: its
/// pid from the socket (SO_PEERCRED) and its state from /proc/PID/stat.
/// </summary>
internal static class DaemonState
{
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;

    /// <summary>
    /// The pid of whoever listens on a unix socket, or null. connect() succeeds on a listening
    /// socket even when its owner is stopped (the connection waits in the backlog), and the
    /// kernel records the listener's credentials for the connecting side at that moment.
    /// </summary>
    public static int? ListenerPid(string socketPath)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            Span<byte> ucred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            return socket.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, ucred) >= 4 && BitConverter.ToInt32(ucred) is > 0 and var pid ? pid : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// "the daemon (pid N, …)" and what follows the message ("; 'kill -CONT N' resumes it"), from
    /// the state letter in /proc/PID/stat.
    /// </summary>
    public static (string Who, string Why) Explain(int? pid)
    {
        if (pid is not { } p) return ("the daemon", "");
        var id = p.ToString(CultureInfo.InvariantCulture);
        return ProcStat.TryRead(p) switch
        {
            { IsStopped: true } => ($"the daemon (pid {id}) is stopped (by SIGSTOP or a debugger) and", $"; 'kill -CONT {id}' resumes it"),
            { State: 'D' } => ($"the daemon (pid {id}, blocked in the kernel, state D)", ""),
            null or { HasExited: true } => ($"the daemon (pid {id}, which has exited)", ""),
            _ => ($"the daemon (pid {id}, running)", ": it is busy or hung"),
        };
    }
}
