using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Cli.Runtime;

/// <summary>
/// The daemon's side of <c>supervisor-helper --hold</c>: a small process that keeps copies of the
/// read ends of every service's stdout and stderr. If the supervisor is killed, the services'
/// output waits in their sockets instead of failing with EPIPE (or killing them with SIGPIPE); the
/// next supervisor takes the descriptors back (<see cref="TakeAll"/>) and the adopted services'
/// output is captured again, nothing lost up to the socket buffer.
/// </summary>
public sealed unsafe partial class FdHolder : IDisposable
{
    private readonly Socket _socket;
    private readonly object _gate = new();

    private FdHolder(Socket socket) => _socket = socket;

    /// <summary>Connects to the holder at <paramref name="path"/>, starting one if none answers; null (and a warning) if that fails.</summary>
    public static FdHolder? Open(string path, ILogger logger)
    {
        if (TryConnect(path) is { } existing) return new FdHolder(existing);
        try
        {
            FdHolderProcess.Start(path);
        }
        catch (Exception e) when (e is IOException or HelperNotFoundException)
        {
            logger.LogWarning("no fd holder ({Message}): a killed supervisor's services will lose their output", e.Message);
            return null;
        }
        // It binds within milliseconds; give it up to two seconds.
        for (int i = 0; i < 200; i++)
        {
            if (TryConnect(path) is { } socket) return new FdHolder(socket);
            Thread.Sleep(10);
        }
        logger.LogWarning("the fd holder did not answer on {Path}: a killed supervisor's services will lose their output", path);
        return null;
    }

    private static Socket? TryConnect(string path)
    {
        if (!File.Exists(path)) return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>Keeps a copy of <paramref name="fd"/> under <paramref name="key"/> (replacing an older one).</summary>
    public void Put(string key, SafeHandle fd)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            Send("PUT " + key, (int)fd.DangerousGetHandle());
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    public void Delete(string key) => Send("DEL " + key, -1);

    /// <summary>The supervisor stopped every unit: the holder exits.</summary>
    public void Quit() => Send("QUIT", -1);

    /// <summary>Every kept descriptor by key (the holder keeps them too, until deleted).</summary>
    public Dictionary<string, SafeSocketHandle> TakeAll()
    {
        var result = new Dictionary<string, SafeSocketHandle>(StringComparer.Ordinal);
        lock (_gate)
        {
            Send("GET", -1);
            var buffer = new byte[512];
            while (true)
            {
                int n = Receive(buffer, out int fd);
                if (n < 0) break;
                var key = Encoding.ASCII.GetString(buffer, 0, n);
                if (key == "END") break;
                if (fd >= 0) result[key] = new SafeSocketHandle(fd, ownsHandle: true);
            }
        }
        return result;
    }

    private const int SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name; public uint NameLength;
        public IoVec* Iov; public nuint IovLength;
        public void* Control; public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    private void Send(string text, int fd)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        lock (_gate)
        {
            fixed (byte* data = bytes)
            {
                byte* control = stackalloc byte[32];
                var iov = new IoVec { Base = data, Length = (nuint)bytes.Length };
                var msg = new MsgHdr { Iov = &iov, IovLength = 1 };
                if (fd >= 0)
                {
                    var h = (CmsgHdr*)control;
                    h->Length = (nuint)(sizeof(CmsgHdr) + sizeof(int));
                    h->Level = SOL_SOCKET;
                    h->Type = SCM_RIGHTS;
                    *(int*)(control + sizeof(CmsgHdr)) = fd;
                    msg.Control = control;
                    msg.ControlLength = (nuint)((sizeof(CmsgHdr) + sizeof(int) + 7) & ~7);
                }
                if (sendmsg((int)_socket.Handle, &msg, MSG_NOSIGNAL) < 0)
                    throw new IOException($"fd holder: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
    }

    private int Receive(byte[] buffer, out int fd)
    {
        fd = -1;
        byte* control = stackalloc byte[64];
        fixed (byte* data = buffer)
        {
            var iov = new IoVec { Base = data, Length = (nuint)buffer.Length };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
            var n = recvmsg((int)_socket.Handle, &msg, MSG_CMSG_CLOEXEC);
            if (n <= 0) return -1;
            if (msg.ControlLength >= (nuint)(sizeof(CmsgHdr) + sizeof(int)))
            {
                var h = (CmsgHdr*)control;
                if (h->Level == SOL_SOCKET && h->Type == SCM_RIGHTS) fd = *(int*)(control + sizeof(CmsgHdr));
            }
            return (int)n;
        }
    }

    public void Dispose() => _socket.Dispose();
}
