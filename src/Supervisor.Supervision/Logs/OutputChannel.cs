using System.Net.Sockets;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Supervision.Logs;

/// <summary>
/// The pipe a service's stdout or stderr goes into: a connected socket pair whose read end is
/// read asynchronously by <see cref="UnitLog.PumpAsync"/> and whose write end (a raw fd) is given
/// to the child. The daemon closes its copy of the write end right after the spawn.
/// </summary>
public static class OutputChannel
{
    public static (Socket Read, int ChildFd) Create() => UnixSockets.OutputPair();

    public static void CloseChildEnd(int fd) => Libc.Close(fd);
}
