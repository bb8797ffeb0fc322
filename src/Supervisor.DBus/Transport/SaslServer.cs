using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.DBus.Transport;

/// <summary>
/// The server side of SASL: only EXTERNAL, checked against SO_PEERCRED. Accepts the
/// initial-response form ("AUTH EXTERNAL 30") and the DATA exchange that gdbus and sd-bus
/// use ("AUTH EXTERNAL" → "DATA" → "DATA"). Unknown commands get ERROR, not a disconnect.
/// </summary>
internal static class SaslServer
{
    private enum State
    {
        WaitingForAuth,
        WaitingForData,
        Authenticated,
    }

    /// <summary>Runs the handshake; returns whether fds were agreed. Throws DBusProtocolException on failure.</summary>
    public static async Task<bool> AuthenticateAsync(MessageStream stream, uint peerUid, string guid, CancellationToken cancellationToken)
    {
        byte? nul = await stream.ReadByteAsync(cancellationToken).ConfigureAwait(false);
        if (nul == null) throw new DBusProtocolException("client closed the connection before SASL");
        if (nul != 0) throw new DBusProtocolException($"SASL must start with a NUL byte, got 0x{nul:x2}");

        var session = new Session(stream, peerUid, guid, cancellationToken);
        for (int commands = 0; ; commands++)
        {
            if (commands >= ProtocolConstants.MaxAuthCommands)
                throw new DBusProtocolException($"client sent more than {ProtocolConstants.MaxAuthCommands} SASL commands without BEGIN");
            string line = await stream.ReadLineAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new DBusProtocolException("client closed the connection during SASL");
            if (await session.HandleAsync(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ConfigureAwait(false))
            {
                stream.UnixFdsEnabled = session.UnixFds;
                return session.UnixFds;
            }
        }
    }

    /// <summary>One handshake's state: where it is, and whether fd passing was agreed.</summary>
    private sealed class Session(MessageStream stream, uint peerUid, string guid, CancellationToken cancellationToken)
    {
        private State _state = State.WaitingForAuth;

        public bool UnixFds { get; private set; }

        /// <summary>Answers one command; true when it was BEGIN after a successful AUTH.</summary>
        public async Task<bool> HandleAsync(string[] words)
        {
            string command = words.Length > 0 ? words[0] : string.Empty;
            switch (_state, command)
            {
                case (State.WaitingForAuth, "AUTH"):
                    if (words.Length < 2 || words[1] != "EXTERNAL" || words.Length > 3) await SendAsync(stream, "REJECTED EXTERNAL", cancellationToken).ConfigureAwait(false);
                    else if (words.Length == 2) await AskForDataAsync().ConfigureAwait(false);
                    else _state = await CheckIdentityAsync(stream, words[2], peerUid, guid, cancellationToken).ConfigureAwait(false);
                    return false;
                case (State.WaitingForData, "DATA"):
                    _state = words.Length switch
                    {
                        // An empty response means "use the credentials the transport gives you".
                        1 => await AcceptAsync(stream, guid, cancellationToken).ConfigureAwait(false),
                        2 => await CheckIdentityAsync(stream, words[1], peerUid, guid, cancellationToken).ConfigureAwait(false),
                        _ => await RejectAsync(stream, cancellationToken).ConfigureAwait(false),
                    };
                    return false;
                case (State.Authenticated, "NEGOTIATE_UNIX_FD"):
                    UnixFds = true;
                    await SendAsync(stream, "AGREE_UNIX_FD", cancellationToken).ConfigureAwait(false);
                    return false;
                case (State.Authenticated, "BEGIN"):
                    return true;
                case (_, "CANCEL"):
                case (State.WaitingForData, "ERROR"):
                case (State.Authenticated, "ERROR"):
                    _state = await RejectAsync(stream, cancellationToken).ConfigureAwait(false);
                    UnixFds = false;
                    return false;
                default:
                    await SendAsync(stream, $"ERROR \"unexpected {Printable(command)} in this state\"", cancellationToken).ConfigureAwait(false);
                    return false;
            }
        }

        private async Task AskForDataAsync()
        {
            _state = State.WaitingForData;
            await SendAsync(stream, "DATA", cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<State> CheckIdentityAsync(MessageStream stream, string hexIdentity, uint peerUid, string guid, CancellationToken cancellationToken)
    {
        string? identity = DecodeHex(hexIdentity);
        // The claimed identity is the decimal uid; it must be the uid the kernel reports.
        if (identity != null && identity.Length > 0 && identity.All(char.IsAsciiDigit)
            && uint.TryParse(identity, NumberStyles.None, CultureInfo.InvariantCulture, out uint claimed) && claimed == peerUid)
        {
            return await AcceptAsync(stream, guid, cancellationToken).ConfigureAwait(false);
        }
        return await RejectAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<State> AcceptAsync(MessageStream stream, string guid, CancellationToken cancellationToken)
    {
        await SendAsync(stream, "OK " + guid, cancellationToken).ConfigureAwait(false);
        return State.Authenticated;
    }

    private static async Task<State> RejectAsync(MessageStream stream, CancellationToken cancellationToken)
    {
        await SendAsync(stream, "REJECTED EXTERNAL", cancellationToken).ConfigureAwait(false);
        return State.WaitingForAuth;
    }

    private static string? DecodeHex(string hex)
    {
        if (hex.Length % 2 != 0) return null;
        try
        {
            return Encoding.ASCII.GetString(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Printable(string s) => s.Length > 32 ? s.Substring(0, 32) : s.Replace("\"", "'", StringComparison.Ordinal);

    private static ValueTask SendAsync(MessageStream stream, string line, CancellationToken cancellationToken) =>
        stream.SendAsync(Encoding.ASCII.GetBytes(line + "\r\n"), Array.Empty<SafeHandle>(), cancellationToken);

    /// <summary>A fresh server GUID: 16 random bytes as 32 lowercase hex digits.</summary>
    public static string NewGuid() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
}
