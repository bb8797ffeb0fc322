using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Supervision.Logs;
using System.Text;
using Microsoft.Extensions.Logging;
using Supervisor.Linux;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The daemon's side of <c>supervisor-holder</c>: a small process that keeps copies of the
/// read ends of every service's stdout and stderr. If the supervisor is killed, the services'
/// output waits in their sockets instead of failing with EPIPE (or killing them with SIGPIPE); the
/// next supervisor takes the descriptors back (<see cref="TakeAll"/>) and the adopted services'
/// output is captured again, nothing lost up to the socket buffer.
/// </summary>
public sealed class FdHolder : IDisposable
{
    /// <summary>HOLD_KEY_MAX in helper/hold.c: a longer key is refused by the holder.</summary>
    public const int MaxKeyBytes = 1023;

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
        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes) throw new IOException($"fd holder: key longer than {MaxKeyBytes} bytes: '{key}'");
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
    public Dictionary<string, SafeFd> TakeAll()
    {
        var result = new Dictionary<string, SafeFd>(StringComparer.Ordinal);
        lock (_gate)
        {
            Send("GET", -1);
            var buffer = new byte[MaxKeyBytes + 1];
            while (true)
            {
                int n = Receive(buffer, out int fd);
                if (n < 0) break;
                var key = Encoding.UTF8.GetString(buffer, 0, n);
                if (key == "END") break;
                if (fd >= 0) result[key] = new SafeFd(fd);
            }
        }
        return result;
    }

    private void Send(string text, int fd)
    {
        lock (_gate)
        {
            try
            {
                DescriptorPassing.Send(_socket, Encoding.UTF8.GetBytes(text), fd);
            }
            catch (IOException e)
            {
                throw new IOException($"fd holder: {e.Message}", e);
            }
        }
    }

    private int Receive(byte[] buffer, out int fd) => DescriptorPassing.Receive(_socket, buffer, out fd);

    public void Dispose() => _socket.Dispose();
}
