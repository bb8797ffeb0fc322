using System.Net.Sockets;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// A socket made inside another process's network namespace. A socket belongs to the namespace
/// its creating thread was in when socket(2) ran, for its whole life; so a throwaway thread joins
/// the namespace (setns(CLONE_NEWNET) is allowed in a multi-threaded process, unlike mount and
/// user namespaces), creates the socket and ends. The socket is then used from any thread, and
/// the rest of the supervisor never leaves its own namespace.
/// </summary>
public static class NetNamespace
{
    private static readonly int CloneNewNet = (int)NamespaceKind.All.Single(k => k.Name == "net").CloneFlag;

    /// <summary>
    /// Whether <paramref name="pid"/> is in another network namespace than this process. A process
    /// that is gone throws: falling back to our namespace would reach the host's loopback instead.
    /// </summary>
    public static bool IsOther(int pid)
    {
        try
        {
            var theirs = File.ResolveLinkTarget($"/proc/{pid}/ns/net", false)?.ToString();
            return theirs != File.ResolveLinkTarget("/proc/self/ns/net", false)?.ToString();
        }
        catch (IOException e)
        {
            throw new IOException($"cannot read the network namespace of pid {pid} (has it exited?): {e.Message}", e);
        }
    }

    /// <summary>
    /// A TCP socket in <paramref name="pid"/>'s network namespace (in ours when it shares it).
    /// Throws <see cref="IOException"/> naming the step when the namespace cannot be joined.
    /// </summary>
    public static Socket TcpSocketIn(int pid, AddressFamily family)
    {
        if (!IsOther(pid)) return new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        Socket? socket = null;
        string? error = null;
        var t = new Thread(() =>
        {
            int fd = Libc.Open($"/proc/{pid}/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                error = $"open '/proc/{pid}/ns/net' failed: {Errno.Name(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}";
                return;
            }
            using var handle = new SafeFd(fd);
            if (Libc.Setns(fd, CloneNewNet) < 0)
            {
                error = $"setns into the network namespace of pid {pid} failed: {Errno.Name(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}";
                return;
            }
            socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        });
        t.Start();
        t.Join();
        return socket ?? throw new IOException(error ?? "cannot make a socket in the unit's network namespace");
    }
}
