using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Supervisor.DBus;

namespace Supervisor.Fuzz;

/// <summary>
/// The server side of a connection, from its first byte: the SASL line reader and handshake
/// (MessageStream.ReadLineAsync, SaslServer), then, after BEGIN, message framing and dispatch
/// to a small object. The input is everything one client sends; the target connects to a
/// DBusServer on a socket in the scratch directory, sends it, ends its side, and reads what
/// comes back until the server closes. Contracts checked:
/// <list type="bullet">
/// <item>the server closes the connection once the client has ended its side (no hang), and
/// reports the disconnect with a documented reason: none, DBusProtocolException or DBusConnectionClosedException;</item>
/// <item>everything it sends is well-formed: printable SASL reply lines, then whole messages the reader accepts;</item>
/// <item>the whole exchange, server and client side, stays within <see cref="Bound"/>.</item>
/// </list>
/// </summary>
public sealed class SaslTarget : IFuzzTarget
{
    /// <summary>
    /// Counted for the whole process (GC.GetTotalAllocatedBytes), from connect to the disconnect
    /// report: the server works on the thread pool, where a per-thread count misses it. So this
    /// bound is looser: a connection costs about 100 KiB (socket, tasks, SASL state) and a
    /// message is read twice (by the server, then by this target checking the reply) and
    /// written once, about 100 bytes a byte for the densest bodies. It exists for what the
    /// message reader alone cannot show: buffers the framing sizes from a length field before
    /// the bytes arrive (8 MiB for a 16-byte header announcing a full-size message). The
    /// constant also absorbs the little other threads allocate meanwhile (SharpFuzz polls its
    /// parent process; the replay test runs its tests one at a time).
    /// </summary>
    public static readonly AllocationBound Bound = new("one client's connection", PerInputByte: 256, PerFile: 0, Constant: 1024 * 1024);

    /// <summary>Only a guard against a server that never closes: a healthy exchange takes milliseconds.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private static readonly string[] ReplyCommands = ["OK", "REJECTED", "DATA", "ERROR", "AGREE_UNIX_FD"];

    private readonly string _socketPath;
    private readonly DBusServer _server;
    private readonly Channel<Exception?> _disconnects = Channel.CreateUnbounded<Exception?>();
    private readonly AllocationBound _bound;
    private bool _warm;

    /// <param name="bound">The allocation bound to enforce; <see cref="Bound"/> unless a test checks the check.</param>
    public SaslTarget(string scratchDirectory, AllocationBound? bound = null)
    {
        _bound = bound ?? Bound;
        _socketPath = Path.Combine(scratchDirectory, $"sasl-{Environment.ProcessId}.sock");
        _server = DBusServer.Listen(_socketPath, (UnixFileMode)0x180 /* 0600 */, FuzzObject.Registry(), new DBusServerOptions { Names = [FuzzObject.Name] });
        _server.ClientDisconnected += (_, reason) => _disconnects.Writer.TryWrite(reason);
    }

    public string Name => FuzzTargets.Sasl;

    public string Run(byte[] input) => RunAsync(input).GetAwaiter().GetResult();

    private async Task<string> RunAsync(byte[] input)
    {
        if (!_warm)
        {
            // The first exchanges of a process pay for static caches and first-use paths.
            _warm = true;
            foreach (var (_, seed) in SaslSeeds.All().Take(3)) await ExchangeAsync(seed);
        }
        long before = GC.GetTotalAllocatedBytes(precise: true);
        string outcome = await ExchangeAsync(input);
        long used = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (used > _bound.For(input.Length))
            throw new FuzzFindingException($"{_bound.What} allocated {used} bytes for a {input.Length}-byte input, over its bound of {_bound.Describe(input.Length)}");
        return $"{outcome}; {used} bytes allocated";
    }

    private async Task<string> ExchangeAsync(byte[] input)
    {
        byte[] received;
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath));
            // Read while sending: the server's replies must not back up while a long input goes out.
            var reading = ReadToEndAsync(socket);
            await SendAndEndAsync(socket, input);
            try
            {
                received = await reading.WaitAsync(Guard);
            }
            catch (TimeoutException)
            {
                throw new FuzzFindingException($"the server did not close the connection within {Guard.TotalSeconds} s of the client ending its side");
            }
        }
        Exception? reason;
        try
        {
            reason = await _disconnects.Reader.ReadAsync().AsTask().WaitAsync(Guard);
        }
        catch (TimeoutException)
        {
            throw new FuzzFindingException($"the server closed the connection but reported no disconnect within {Guard.TotalSeconds} s (an exception escaped its client task?)");
        }
        if (reason is not (null or DBusProtocolException or DBusConnectionClosedException))
            throw new FuzzFindingException($"the server dropped the client for an undocumented reason: {reason.GetType().Name}: {reason.Message}", reason);
        int messages = CheckServerOutput(received);
        return $"closed ({(reason is null ? "cleanly" : reason.Message)}), {messages} messages back";
    }

    private static async Task SendAndEndAsync(Socket socket, byte[] input)
    {
        try
        {
            int sent = 0;
            while (sent < input.Length) sent += await socket.SendAsync(input.AsMemory(sent), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            // The server found a protocol error before the end of the input and closed: a valid outcome.
        }
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0) all.Write(buffer, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed with our unread input still queued: as final as an orderly close.
        }
        return all.ToArray();
    }

    /// <summary>SASL reply lines (printable ASCII, a known command, "\r\n"), then whole messages. Returns the message count.</summary>
    private static int CheckServerOutput(byte[] output)
    {
        int pos = 0;
        while (pos < output.Length && output[pos] is >= (byte)'A' and <= (byte)'Z')
        {
            int nl = Array.IndexOf(output, (byte)'\n', pos);
            if (nl < 0 || nl == pos || output[nl - 1] != '\r')
                throw new FuzzFindingException($"the server sent a SASL line without \\r\\n: {Printable(output, pos)}");
            var line = output.AsSpan(pos, nl - 1 - pos);
            foreach (byte b in line)
            {
                if (b is < 0x20 or > 0x7e) throw new FuzzFindingException($"the server sent a SASL line with byte 0x{b:x2}: {Printable(output, pos)}");
            }
            string command = Encoding.ASCII.GetString(line).Split(' ')[0];
            if (!ReplyCommands.Contains(command)) throw new FuzzFindingException($"the server sent SASL command '{command}', which a server never sends");
            pos = nl + 1;
        }
        int messages = 0;
        while (pos < output.Length)
        {
            try
            {
                int length = Message.GetMessageLength(output.AsSpan(pos), ProtocolConstants.DefaultMaxMessageSize);
                if (pos + length > output.Length) throw new DBusProtocolException($"message of {length} bytes cut off after {output.Length - pos}");
                using var message = Message.Parse(output.AsMemory(pos, length));
                pos += length;
                messages++;
            }
            catch (DBusProtocolException e)
            {
                throw new FuzzFindingException($"the server sent a message our own reader rejects: {e.Message}", e);
            }
        }
        return messages;
    }

    private static string Printable(byte[] bytes, int from) =>
        UnitDiagnosticChecks.Escape(Encoding.Latin1.GetString(bytes, from, Math.Min(80, bytes.Length - from)));

    public void Dispose() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
