using System.Collections.Concurrent;
using System.Text;

namespace Supervisor.DBus.Tests;

/// <summary>SASL scripts and hostile clients against our peer-to-peer server.</summary>
public sealed class SaslAndSafetyTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly TestService _service = new();
    private readonly ConcurrentQueue<(DBusServerClient Client, Exception? Reason)> _disconnects = new();
    private readonly SemaphoreSlim _disconnected = new(0);
    private DBusServer _server = null!;

    private string Address => "unix:path=" + _dir.Socket;

    public ValueTask InitializeAsync()
    {
        _server = Listen(new DBusServerOptions());
        return ValueTask.CompletedTask;
    }

    private DBusServer Listen(DBusServerOptions options)
    {
        var server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, _service.Registry, options);
        server.ClientDisconnected += (c, e) =>
        {
            _disconnects.Enqueue((c, e));
            _disconnected.Release();
        };
        return server;
    }

    private async Task RestartServerAsync(DBusServerOptions options)
    {
        await _server.DisposeAsync();
        _server = Listen(options);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>Waits for the next disconnect the server reports (the timeout is only a safety net).</summary>
    private async Task<Exception?> NextDisconnectReasonAsync()
    {
        Assert.True(await _disconnected.WaitAsync(Tool.Timeout), "the server reported no disconnect");
        Assert.True(_disconnects.TryDequeue(out var d));
        return d.Reason;
    }

    private static byte[] Hello(uint serial = 1) =>
        Message.MethodCall("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello").Serialize(serial, out _);

    [Fact]
    public async Task Pipelined_auth_negotiate_begin_and_first_message_in_one_write()
    {
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        var script = Encoding.ASCII.GetBytes("\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n").Concat(Hello()).ToArray();
        await raw.SendAsync(script);
        Assert.Equal("OK " + _server.Guid, await raw.ReadLineAsync());
        Assert.Equal("AGREE_UNIX_FD", await raw.ReadLineAsync());
        // The Hello that followed BEGIN in the same write was not lost: its reply arrives.
        var reply = await raw.ReadMessageAsync();
        Assert.Equal(MessageType.MethodReturn, reply.Type);
        Assert.Equal(1u, reply.ReplySerial);
        Assert.StartsWith(":1.", (string)reply.Body[0]);
    }

    [Fact]
    public async Task Auth_external_with_data_exchange_as_gdbus_and_sd_bus_send_it()
    {
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.SendAsync("\0AUTH EXTERNAL\r\n");
        Assert.Equal("DATA", await raw.ReadLineAsync());
        await raw.SendAsync("DATA\r\n");
        Assert.Equal("OK " + _server.Guid, await raw.ReadLineAsync());
    }

    [Fact]
    public async Task Wrong_identity_and_unknown_mechanisms_are_rejected_and_unknown_commands_get_ERROR()
    {
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.SendAsync("\0AUTH EXTERNAL 31303030\r\n"); // claims uid 1000, but we are root
        Assert.Equal("REJECTED EXTERNAL", await raw.ReadLineAsync());
        await raw.SendAsync("AUTH DBUS_COOKIE_SHA1 30\r\n");
        Assert.Equal("REJECTED EXTERNAL", await raw.ReadLineAsync());
        await raw.SendAsync("AUTH\r\n");
        Assert.Equal("REJECTED EXTERNAL", await raw.ReadLineAsync());
        await raw.SendAsync("AUTH EXTERNAL zz\r\n"); // not hex
        Assert.Equal("REJECTED EXTERNAL", await raw.ReadLineAsync());
        await raw.SendAsync("FROBNICATE\r\n");
        Assert.StartsWith("ERROR", await raw.ReadLineAsync());
        await raw.SendAsync("BEGIN\r\n"); // not authenticated yet
        Assert.StartsWith("ERROR", await raw.ReadLineAsync());
        await raw.SendAsync("AUTH EXTERNAL 30\r\n");
        Assert.StartsWith("OK ", await raw.ReadLineAsync());
    }

    [Fact]
    public async Task A_non_root_client_claiming_uid_0_is_rejected()
    {
        Tool.RequireRoot();
        Tool.Require("/usr/bin/setpriv", "util-linux");
        Tool.Require("/usr/bin/python3", "python3");
        string script = $$"""
            import socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect("{{_dir.Socket}}")
            s.sendall(b"\0AUTH EXTERNAL 30\r\n")
            print(s.recv(100).decode().strip())
            s.sendall(b"AUTH EXTERNAL 3635353334\r\n")
            print(s.recv(100).decode().strip()[:2])
            """;
        string output = await Tool.RunOkAsync("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script);
        Assert.Equal("REJECTED EXTERNAL\nOK\n", output);
    }

    [Theory]
    [InlineData("AUTH EXTERNAL 30\r\n", "must start with a NUL byte")]
    [InlineData("\0AUTH EXTERNAL 30\n", "does not end in \\r\\n")]
    [InlineData("\0AUTH \u0001\r\n", "not printable ASCII")]
    public async Task Malformed_sasl_disconnects_with_a_reason(string script, string reason)
    {
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.SendAsync(script);
        Assert.True(await raw.WaitForCloseAsync());
        Assert.Contains(reason, Assert.IsType<DBusProtocolException>(await NextDisconnectReasonAsync()).Message);
    }

    [Fact]
    public async Task Overlong_sasl_lines_and_endless_commands_are_cut_off()
    {
        using (var raw = await RawClient.ConnectAsync(_dir.Socket))
        {
            await raw.SendAsync("\0AUTH EXTERNAL " + new string('3', ProtocolConstants.MaxAuthLineLength + 10));
            Assert.True(await raw.WaitForCloseAsync());
            Assert.Contains("longer than", (await NextDisconnectReasonAsync())!.Message);
        }
        using (var raw = await RawClient.ConnectAsync(_dir.Socket))
        {
            await raw.SendAsync("\0" + string.Concat(Enumerable.Repeat("NOPE\r\n", ProtocolConstants.MaxAuthCommands + 1)));
            Assert.True(await raw.WaitForCloseAsync());
            Assert.Contains("without BEGIN", (await NextDisconnectReasonAsync())!.Message);
        }
    }

    [Fact]
    public async Task A_client_that_never_authenticates_is_dropped_after_the_auth_timeout()
    {
        await RestartServerAsync(new DBusServerOptions { AuthTimeout = TimeSpan.FromMilliseconds(200) });
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.SendAsync("\0");
        Assert.True(await raw.WaitForCloseAsync());
        Assert.Contains("did not finish", (await NextDisconnectReasonAsync())!.Message);
    }

    [Fact]
    public async Task Garbage_after_auth_closes_only_that_connection()
    {
        await using var good = await DBusConnection.ConnectAsync(Address);
        using var bad = await RawClient.ConnectAsync(_dir.Socket);
        await bad.AuthenticateAsync();
        await bad.SendAsync(Hello());
        byte[] garbage = Hello(2);
        garbage[20] = 0xff; // the PATH string's length now runs past the header fields
        await bad.SendAsync(garbage);
        Assert.True(await bad.WaitForCloseAsync());
        Assert.IsType<DBusProtocolException>(await NextDisconnectReasonAsync());
        Assert.Equal("unaffected", (await good.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "unaffected" }))[0]);
        Assert.Equal(1, _server.ConnectionCount);
    }

    [Theory]
    [InlineData("oversized")]
    [InlineData("reserved-local-path")]
    [InlineData("zero-serial")]
    [InlineData("big-endian-version-2")]
    public async Task Invalid_messages_are_refused_with_the_connection(string kind)
    {
        using var bad = await RawClient.ConnectAsync(_dir.Socket);
        await bad.AuthenticateAsync();
        byte[] bytes = kind switch
        {
            // A header announcing a body far over the limit: refused from the first 16 bytes.
            "oversized" => Hex.Parse("6c01000100000010010000000000000000"),
            "reserved-local-path" => Message.MethodCall(null, "/org/freedesktop/DBus/Local", "io.supervisor.X", "Y").Serialize(1, out _),
            "zero-serial" => Hello().Select((b, i) => i is >= 8 and < 12 ? (byte)0 : b).ToArray(),
            _ => Hello().Select((b, i) => i == 3 ? (byte)2 : b).ToArray(),
        };
        await bad.SendAsync(bytes);
        Assert.True(await bad.WaitForCloseAsync());
        string reason = Assert.IsType<DBusProtocolException>(await NextDisconnectReasonAsync()).Message;
        Assert.Contains(kind switch
        {
            "oversized" => "exceeds the limit",
            "reserved-local-path" => "reserved",
            "zero-serial" => "serial is 0",
            _ => "protocol version 2",
        }, reason);
    }

    [Fact]
    public async Task Fds_sent_without_negotiation_close_the_connection()
    {
        // Our own client refuses to send fds it did not negotiate...
        await using var c = await DBusConnection.ConnectAsync(Address, new DBusConnectionOptions { NegotiateUnixFds = false });
        Assert.False(c.UnixFdsEnabled);
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        Assert.Throws<InvalidOperationException>(() => c.Send(Message.MethodCall(null, TestService.Path, TestService.Interface, "ReadFd", "h", pipe.ClientSafePipeHandle)));

        // ...and the server drops a peer that sends SCM_RIGHTS anyway.
        Tool.Require("/usr/bin/python3", "python3");
        string hello = Hex.Of(Hello());
        string script = $$"""
            import socket, array, os
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect("{{_dir.Socket}}")
            s.sendall(b"\0AUTH EXTERNAL 30\r\n")
            s.recv(100)
            s.sendall(b"BEGIN\r\n")
            r, w = os.pipe()
            s.sendmsg([bytes.fromhex("{{hello}}")], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
            while s.recv(4096):
                pass
            print("closed")
            """;
        Assert.Equal("closed\n", await Tool.RunOkAsync("/usr/bin/python3", "-c", script));
        Assert.Contains("without negotiating", Assert.IsType<DBusProtocolException>(await NextDisconnectReasonAsync()).Message);
    }

    [Fact]
    public async Task A_reply_over_the_size_limit_becomes_an_error_and_the_connection_survives()
    {
        await using var c = await DBusConnection.ConnectAsync(Address);
        var error = await Assert.ThrowsAsync<DBusErrorException>(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Big", "u", new object[] { (uint)ProtocolConstants.DefaultMaxMessageSize }));
        Assert.Equal(DBusErrors.Failed, error.ErrorName);
        Assert.Contains("over the limit", error.Message);
        var ok = await c.CallAsync(null, TestService.Path, TestService.Interface, "Big", "u", new object[] { 1000u });
        Assert.Equal(1000, ((byte[])ok[0]).Length);
    }

    [Fact]
    public async Task A_client_that_never_reads_is_disconnected_and_does_not_stall_the_others()
    {
        const long queueLimit = 2 * 1024 * 1024;
        await RestartServerAsync(new DBusServerOptions { MaxOutgoingQueueBytes = queueLimit });
        await using var good = await DBusConnection.ConnectAsync(Address);
        int goodSignals = 0;
        await using var match = await good.AddMatchAsync(new MatchRule { Member = "Changed" }, _ => Interlocked.Increment(ref goodSignals));
        using var stuck = await RawClient.ConnectAsync(_dir.Socket);
        await stuck.AuthenticateAsync();
        await stuck.SendAsync(Hello());
        while (_server.ConnectionCount < 2) await Task.Delay(10);

        // Broadcast 16 KiB signals; the stuck client's socket buffer fills, then its queue.
        string payload = new('x', 16 * 1024);
        int sent = 0;
        var deadline = DateTime.UtcNow + Tool.Timeout;
        while (_disconnects.IsEmpty && DateTime.UtcNow < deadline)
        {
            _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", payload);
            sent++;
            if (sent % 16 == 0)
            {
                // The good client keeps being served while the stuck one backs up.
                Assert.Equal("alive", (await good.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "alive" }))[0]);
            }
        }
        var reason = Assert.IsType<DBusConnectionClosedException>(await NextDisconnectReasonAsync());
        Assert.Contains("not reading", reason.Message);
        Assert.True((long)sent * payload.Length > queueLimit, "the limit was reached by volume, not by accident");
        Assert.Equal("alive", (await good.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "alive" }))[0]);
        Assert.False(good.IsClosed);
    }

    [Fact]
    public async Task Big_endian_calls_are_answered_unknown_message_types_ignored_and_no_reply_calls_get_no_reply()
    {
        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.AuthenticateAsync();
        // A message of unknown type 9 (well-formed) must be ignored, not answered or fatal.
        byte[] unknown = Message.Signal(TestService.Path, TestService.Interface, "Changed", "s", "x").Serialize(1, out _);
        unknown[1] = 9;
        await raw.SendAsync(unknown);
        // A call flagged NO_REPLY_EXPECTED runs but gets no reply.
        var silent = new Message { Type = MessageType.MethodCall, Flags = MessageFlags.NoReplyExpected, Path = TestService.Path, Interface = TestService.Interface, Member = "Echo", Signature = new Signature("s"), Body = new object[] { "quiet" } };
        await raw.SendAsync(silent.Serialize(2, out _));
        // A big-endian call gets its answer.
        await raw.SendAsync(Message.MethodCall(null, TestService.Path, TestService.Interface, "Echo", "s", "big").Serialize(3, out _, bigEndian: true));
        var reply = await raw.ReadMessageAsync();
        Assert.Equal(3u, reply.ReplySerial);
        Assert.Equal("big", reply.Body[0]);
        Assert.Equal(1, _server.ConnectionCount);
    }

    [Fact]
    public async Task Random_sasl_input_never_takes_the_server_down()
    {
        var random = new Random(20261125);
        string[] words = { "AUTH", "EXTERNAL", "DATA", "BEGIN", "CANCEL", "ERROR", "NEGOTIATE_UNIX_FD", "30", "", "ANONYMOUS", "\0", "\r", "\n", "\r\n", "\u00ff" };
        for (int i = 0; i < 100; i++)
        {
            using var raw = await RawClient.ConnectAsync(_dir.Socket);
            var sb = new StringBuilder(random.Next(2) == 0 ? "\0" : "");
            int tokens = random.Next(1, 12);
            for (int t = 0; t < tokens; t++) sb.Append(words[random.Next(words.Length)]).Append(random.Next(3) == 0 ? "\r\n" : " ");
            var bytes = Encoding.Latin1.GetBytes(sb.ToString());
            try
            {
                await raw.SendAsync(bytes);
            }
            catch (System.Net.Sockets.SocketException)
            {
                // The server may already have dropped this client.
            }
        }
        // Every one of them ended in a reported, typed outcome (a bug would escape unreported).
        for (int i = 0; i < 100; i++)
        {
            var reason = await NextDisconnectReasonAsync();
            Assert.True(reason is null or DBusProtocolException, $"unexpected {reason}");
        }
        await using var good = await DBusConnection.ConnectAsync(Address);
        Assert.Equal("fine", (await good.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "fine" }))[0]);
    }
}
