using System.Diagnostics;

namespace Supervisor.DBus.Tests;

/// <summary>
/// A hostile local user: a python3 child that setpriv runs as another uid (no groups), opening
/// many connections to a server socket, authenticating with its real uid and then sending
/// nothing, or sending the bytes of a file (whole or only a prefix) on each. It prints one line
/// per stage and holds its connections until the server closes them all or the test ends it.
/// </summary>
internal sealed class HostilePeer : IAsyncDisposable
{
    private const string Script = """
        import os, select, socket, sys
        path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
        auth = b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n"

        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                s.sendall(auth)
                if s.recv(4096).startswith(b"OK "):
                    s.sendall(b"BEGIN\r\n")
                    return s
            except OSError:
                pass
            s.close()
            return None

        def recv_exact(s, n):
            data = b""
            while len(data) < n:
                chunk = s.recv(n - len(data))
                if not chunk:
                    raise EOFError()
                data += chunk
            return data

        def read_message(s):
            head = recv_exact(s, 16)
            body, fields = int.from_bytes(head[4:8], "little"), int.from_bytes(head[12:16], "little")
            return head + recv_exact(s, (fields + 7) // 8 * 8 + body)

        socks = [s for s in (connect() for _ in range(count)) if s is not None]
        print("open", len(socks), "refused", count - len(socks), flush=True)
        if mode == "send":
            data = open(sys.argv[4], "rb").read()
            prefix, replies = int(sys.argv[5]) or len(data), int(sys.argv[6])
            for s in socks:
                try:
                    s.sendall(data[:prefix])
                except OSError:
                    pass
            print("sent", flush=True)
            if replies:
                invalid = closed = 0
                for s in socks:
                    try:
                        for _ in range(replies):
                            invalid += b"org.freedesktop.DBus.Error.InvalidArgs" in read_message(s)
                    except (EOFError, OSError):
                        closed += 1
                print("invalid-args", invalid, "closed", closed, flush=True)
        # Hold everything, reading nothing more (a hostile peer does not read its replies: reading
        # them here let a flood drain as fast as the server queued it), until the server has closed
        # every connection (POLLRDHUP, not POLLIN) or the test closes stdin.
        poller = select.poll()
        poller.register(sys.stdin.fileno(), select.POLLIN)
        live = {s.fileno(): s for s in socks}
        for fd in live:
            poller.register(fd, select.POLLRDHUP)
        while live:
            for fd, _ in poller.poll():
                if fd == sys.stdin.fileno():
                    sys.exit(0)
                if fd in live:
                    poller.unregister(fd)
                    live.pop(fd)
        print("all closed", flush=True)
        sys.stdin.read()
        """;

    private readonly Process _process;

    private HostilePeer(Process process)
    {
        _process = process;
        _ = process.StandardError.ReadToEndAsync();
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections as <paramref name="uid"/> (with the supplementary
    /// group <paramref name="group"/>, else none), authenticates, sends nothing.
    /// </summary>
    public static HostilePeer Open(string socket, uint uid, int count, uint? group = null) => Start(uid, group, socket, "open", count.ToString());

    /// <summary>
    /// As <see cref="Open"/>, then sends the first <paramref name="prefix"/> bytes of <paramref name="file"/>
    /// (0: all) on every connection and reads <paramref name="replies"/> messages back from each.
    /// </summary>
    public static HostilePeer Send(string socket, uint uid, int count, string file, int prefix, int replies) =>
        Start(uid, null, socket, "send", count.ToString(), file, prefix.ToString(), replies.ToString());

    private static HostilePeer Start(uint uid, uint? group, params string[] args)
    {
        Tool.RequireRoot();
        Tool.Require("/usr/bin/setpriv", "util-linux");
        Tool.Require("/usr/bin/python3", "python3");
        var psi = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { $"--reuid={uid}", $"--regid={uid}", group is { } g ? $"--groups={g}" : "--clear-groups", "/usr/bin/python3", "-c", Script }.Concat(args))
            psi.ArgumentList.Add(a);
        return new HostilePeer(Process.Start(psi)!);
    }

    /// <summary>The next line the peer prints (the timeout only guards against a hang).</summary>
    public async Task<string> ReadLineAsync()
    {
        string? line = await _process.StandardOutput.ReadLineAsync().WaitAsync(Tool.Timeout);
        return line ?? throw new InvalidOperationException($"the hostile peer exited ({await _process.StandardError.ReadToEndAsync()})");
    }

    /// <summary>Ends the peer (closing all its connections): stdin closed, then killed by PID if it lingers.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(Tool.Timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
