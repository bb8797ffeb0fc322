using System.Globalization;
using System.Text;
using Supervisor.Linux.Native;

namespace Supervisor.DBus.Transport;

/// <summary>The client side of SASL EXTERNAL (spec #auth-protocol).</summary>
internal static class SaslClient
{
    /// <summary>Authenticates as our effective uid; returns the server GUID and whether fds were agreed.</summary>
    public static async Task<(string Guid, bool UnixFds)> AuthenticateAsync(MessageStream stream, bool negotiateUnixFds, CancellationToken cancellationToken)
    {
        string uid = Libc.GetEuid().ToString(CultureInfo.InvariantCulture);
        await SendLineAsync(stream, AuthLine(), cancellationToken).ConfigureAwait(false);
        string reply = await ReadLineAsync(stream, cancellationToken).ConfigureAwait(false);
        if (!reply.StartsWith("OK ", StringComparison.Ordinal))
            throw new DBusProtocolException($"SASL AUTH EXTERNAL as uid {uid} failed: server said '{reply}'");
        string guid = reply.Substring(3).Trim();
        bool unixFds = false;
        if (negotiateUnixFds)
        {
            await SendLineAsync(stream, "NEGOTIATE_UNIX_FD\r\n", cancellationToken).ConfigureAwait(false);
            reply = await ReadLineAsync(stream, cancellationToken).ConfigureAwait(false);
            // A server without fd support answers ERROR; the connection still works without fds.
            unixFds = reply == "AGREE_UNIX_FD";
        }
        await SendLineAsync(stream, "BEGIN\r\n", cancellationToken).ConfigureAwait(false);
        stream.UnixFdsEnabled = unixFds;
        return (guid, unixFds);
    }

    /// <summary>
    /// "\0AUTH EXTERNAL hex(euid)\r\n". The leading NUL byte: on Linux the server takes our
    /// credentials from SO_PEERCRED, the byte itself carries nothing but must be sent first.
    /// </summary>
    internal static string AuthLine() =>
        "\0AUTH EXTERNAL " + Convert.ToHexStringLower(Encoding.ASCII.GetBytes(Libc.GetEuid().ToString(CultureInfo.InvariantCulture))) + "\r\n";

    private static ValueTask SendLineAsync(MessageStream stream, string line, CancellationToken cancellationToken) =>
        stream.SendAsync(Encoding.ASCII.GetBytes(line), Array.Empty<System.Runtime.InteropServices.SafeHandle>(), cancellationToken);

    private static async Task<string> ReadLineAsync(MessageStream stream, CancellationToken cancellationToken) =>
        await stream.ReadLineAsync(cancellationToken).ConfigureAwait(false)
        ?? throw new DBusProtocolException("server closed the connection during SASL authentication");
}
