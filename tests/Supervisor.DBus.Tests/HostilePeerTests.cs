using System.Collections.Concurrent;

namespace Supervisor.DBus.Tests;

/// <summary>
/// Tests that measure this process's allocations run alone (no other test allocating meanwhile);
/// the hostile peers are separate processes, so what is measured is the server (and the root client).
/// </summary>
[CollectionDefinition(nameof(MemoryMeasuring), DisableParallelization = true)]
public sealed class MemoryMeasuring
{
}

/// <summary>
/// Issue #13, reproduced with a real unprivileged user: python children that setpriv runs as
/// nobody (and other unprivileged uids) lock out, flood and starve the control socket, while
/// root's calls keep being answered and the server's memory stays within the README's bounds.
/// Root only (setpriv); skipped otherwise.
/// </summary>
[Collection(nameof(MemoryMeasuring))]
public sealed class HostilePeerTests : IAsyncLifetime
{
    private const uint Nobody = 65534;

    private readonly TempDir _dir = new();
    private readonly TestService _service = new();
    private readonly ConcurrentQueue<(DBusServerClient Client, Exception? Reason)> _disconnects = new();
    private DBusServer? _server;

    private string Address => "unix:path=" + _dir.Socket;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    private DBusServer Listen(DBusServerOptions options)
    {
        _server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, _service.Registry, options);
        _server.ClientDisconnected += (c, e) => _disconnects.Enqueue((c, e));
        return _server;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server != null) await _server.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<string> RootEchoAsync(string text)
    {
        await using var root = await DBusConnection.ConnectAsync(Address);
        return (string)(await root.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { text }))[0];
    }

    private string[] Reasons(uint uid, string containing) =>
        _disconnects.Where(d => d.Client.Credentials.UserId == uid && d.Reason?.Message.Contains(containing, StringComparison.Ordinal) == true)
            .Select(d => d.Reason!.Message).ToArray();

    private static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(condition, () => what);

    /// <param name="what">What was awaited, said when it did not come (with the state seen then).</param>
    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Tool.Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline) Assert.Fail($"timed out waiting until {what()}");
            await Task.Delay(20);
        }
    }

    private static long Allocated() => GC.GetTotalAllocatedBytes(precise: true);

    [Fact]
    public async Task Nobody_opening_1024_connections_gets_256_and_root_still_gets_in()
    {
        Tool.RequireRoot();
        var server = Listen(new DBusServerOptions());
        long before = Allocated();
        await using var first = HostilePeer.Open(_dir.Socket, Nobody, 256);
        Assert.Equal("open 256 refused 0", await first.ReadLineAsync());
        long perConnection = (Allocated() - before) / 256;
        await using var rest = HostilePeer.Open(_dir.Socket, Nobody, 1024 - 256);
        Assert.Equal("open 0 refused 768", await rest.ReadLineAsync());

        // The lock-out of issue #13 ("refused: 1024 connections already open") is gone.
        Assert.Equal("root is in", await RootEchoAsync("root is in"));
        Assert.Equal(ProtocolConstants.DefaultMaxConnectionsPerUser, server.GetUserUsage(Nobody)!.Connections);
        Assert.Equal(768, Reasons(Nobody, "refused").Length);
        Assert.All(Reasons(Nobody, "refused"), r => Assert.Equal($"refused: uid {Nobody} already has 256 connections open, the limit per user", r));
        Assert.True(perConnection < 24 * 1024, $"{perConnection} bytes allocated per idle connection (README: under 24 KiB)");
    }

    [Fact]
    public async Task Connections_that_authenticate_and_send_nothing_are_closed_after_the_idle_timeout()
    {
        Tool.RequireRoot();
        var server = Listen(new DBusServerOptions { IdleTimeout = TimeSpan.FromSeconds(1) });
        await using var nobody = HostilePeer.Open(_dir.Socket, Nobody, 16);
        Assert.Equal("open 16 refused 0", await nobody.ReadLineAsync());
        Assert.Equal("all closed", await nobody.ReadLineAsync());
        await WaitUntilAsync(() => Reasons(Nobody, "idle").Length == 16, "the server reported 16 idle disconnects");
        Assert.All(Reasons(Nobody, "idle"), r => Assert.Equal("idle: sent no complete message for 1 s (the limit for unprivileged peers; send Peer.Ping to stay connected)", r));
        Assert.Equal(0, server.GetUserUsage(Nobody)!.Connections);
    }

    [Fact]
    public async Task Several_unprivileged_uids_together_cannot_take_the_connections_kept_for_root()
    {
        Tool.RequireRoot();
        var server = Listen(new DBusServerOptions { MaxConnections = 24, ReservedPrivilegedConnections = 8, MaxConnectionsPerUser = 6 });
        await using var a = HostilePeer.Open(_dir.Socket, 65534, 10);
        Assert.Equal("open 6 refused 4", await a.ReadLineAsync());
        await using var b = HostilePeer.Open(_dir.Socket, 65533, 10);
        Assert.Equal("open 6 refused 4", await b.ReadLineAsync());
        await using var c = HostilePeer.Open(_dir.Socket, 65532, 10);
        Assert.Equal("open 4 refused 6", await c.ReadLineAsync());
        Assert.Contains("the 16 connections open to unprivileged users are in use (the other 8 are kept for root", Reasons(65532, "refused").Last());

        // All 8 reserved connections are root's, each answered.
        var roots = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => DBusConnection.ConnectAsync(Address)));
        try
        {
            var echoes = await Task.WhenAll(roots.Select((r, i) => r.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { $"root {i}" })));
            Assert.Equal(Enumerable.Range(0, 8).Select(i => $"root {i}"), echoes.Select(e => (string)e[0]));
            Assert.Equal(24, server.ConnectionCount);
        }
        finally
        {
            foreach (var r in roots) await r.DisposeAsync();
        }
    }

    [Fact]
    public async Task Members_of_the_admin_group_are_privileged_and_not_held_to_the_per_user_limit()
    {
        Tool.RequireRoot();
        const uint admins = 4242;
        var server = Listen(new DBusServerOptions { AdminGroupId = admins, MaxConnectionsPerUser = 4 });
        var privileged = new ConcurrentBag<bool>();
        server.ClientConnected += c => privileged.Add(c.IsPrivileged);
        await using (var admin = HostilePeer.Open(_dir.Socket, Nobody, 10, group: admins))
            Assert.Equal("open 10 refused 0", await admin.ReadLineAsync());
        Assert.Equal(10, privileged.Count);
        Assert.All(privileged, Assert.True);
        await using var plain = HostilePeer.Open(_dir.Socket, Nobody, 10);
        Assert.Equal("open 4 refused 6", await plain.ReadLineAsync());
    }

    [Fact]
    public async Task Huge_bodies_with_the_wrong_signature_are_refused_from_the_header_and_never_decoded()
    {
        Tool.RequireRoot();
        var server = Listen(new DBusServerOptions());
        // GetUnit-like: Echo takes 's', this sends an 'as' of one-letter strings, just under 1 MiB
        // (the limit for unprivileged peers). Decoded it would be about 5 times its size.
        var strings = Enumerable.Repeat((object)"x", 130_000).ToArray();
        byte[] call = Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Echo", "as", new object[] { strings }).Serialize(1, out _);
        Assert.InRange(call.Length, 1_000_000, ProtocolConstants.DefaultMaxUnprivilegedMessageSize);
        string file = Path.Combine(_dir.Path, "wrong-signature");
        await File.WriteAllBytesAsync(file, call);

        const int connections = 24;
        long before = Allocated();
        await using (var nobody = HostilePeer.Send(_dir.Socket, Nobody, connections, file, prefix: 0, replies: 1))
        {
            Assert.Equal($"open {connections} refused 0", await nobody.ReadLineAsync());
            Assert.Equal("sent", await nobody.ReadLineAsync());
            Assert.Equal($"invalid-args {connections} closed 0", await nobody.ReadLineAsync());
        }
        long allocated = Allocated() - before;
        // Each message costs its own bytes (received into an array of its size) and nothing for its body.
        Assert.True(allocated < connections * (call.Length + 64 * 1024) + 8 * 1024 * 1024,
            $"{allocated / 1024 / 1024} MiB allocated for {connections} messages of {call.Length} bytes");
        Assert.True(server.GetUserUsage(Nobody)!.PeakIncomingBytes <= ProtocolConstants.DefaultMaxIncomingBytesPerUser);
        Assert.Equal("still answering", await RootEchoAsync("still answering"));

        // The issue's 8 MB message is refused from its first 16 bytes.
        byte[] eightMegabytes = Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Echo", "as", new object[] { Enumerable.Repeat((object)"x", 1_000_000).ToArray() }).Serialize(1, out _);
        await File.WriteAllBytesAsync(file, eightMegabytes);
        await using (var nobody = HostilePeer.Send(_dir.Socket, Nobody, 1, file, prefix: 0, replies: 1))
        {
            Assert.Equal("open 1 refused 0", await nobody.ReadLineAsync());
            Assert.Equal("sent", await nobody.ReadLineAsync());
            Assert.Equal("invalid-args 0 closed 1", await nobody.ReadLineAsync());
        }
        Assert.Equal($"message of {eightMegabytes.Length} bytes exceeds the limit of 1048576 bytes for unprivileged peers", Assert.Single(Reasons(Nobody, "exceeds")));
    }

    [Fact]
    public async Task Messages_announced_and_left_unfinished_are_bounded_by_the_bytes_in_flight_per_uid()
    {
        Tool.RequireRoot();
        var server = Listen(new DBusServerOptions());
        // Each connection announces a 1 000 000-byte message and sends only its first 64 KiB:
        // the server must make room for each, until the uid's 32 MiB in flight are spoken for.
        byte[] call = Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Echo", "ay", new object[] { new byte[999_800] }).Serialize(1, out _);
        Assert.InRange(call.Length, 999_900, 1_000_000);
        string file = Path.Combine(_dir.Path, "unfinished");
        await File.WriteAllBytesAsync(file, call);

        const int connections = 100;
        int fit = (int)(ProtocolConstants.DefaultMaxIncomingBytesPerUser / call.Length);
        long before = Allocated();
        await using var nobody = HostilePeer.Send(_dir.Socket, Nobody, connections, file, prefix: 64 * 1024, replies: 0);
        Assert.Equal($"open {connections} refused 0", await nobody.ReadLineAsync());
        Assert.Equal("sent", await nobody.ReadLineAsync());
        await WaitUntilAsync(() => Reasons(Nobody, "in flight").Length == connections - fit, $"{connections - fit} connections were closed for bytes in flight");
        long allocated = Allocated() - before;

        Assert.StartsWith($"uid {Nobody} would have ", Reasons(Nobody, "in flight")[0]);
        Assert.EndsWith($"bytes of incoming messages in flight, over the limit of {ProtocolConstants.DefaultMaxIncomingBytesPerUser} per user", Reasons(Nobody, "in flight")[0]);
        var usage = server.GetUserUsage(Nobody)!;
        Assert.Equal(fit, usage.Connections);
        Assert.Equal((long)fit * call.Length, usage.IncomingBytes);
        Assert.True(usage.PeakIncomingBytes <= ProtocolConstants.DefaultMaxIncomingBytesPerUser);
        // 33 messages' worth of room, not 100: the flood costs what the budget allows.
        Assert.True(allocated < ProtocolConstants.DefaultMaxIncomingBytesPerUser + connections * 64 * 1024 + 8 * 1024 * 1024,
            $"{allocated / 1024 / 1024} MiB allocated for {connections} unfinished messages");
        Assert.Equal("root unaffected", await RootEchoAsync("root unaffected"));
    }

    [Fact]
    public async Task A_uid_that_floods_calls_and_never_reads_the_replies_is_cut_off_at_its_queue_limit()
    {
        Tool.RequireRoot();
        const long perUser = 4 * 1024 * 1024;
        var server = Listen(new DBusServerOptions { MaxOutgoingBytesPerUser = perUser });
        // 64 calls of Big(256 KiB) per connection, pipelined, replies never read: 16 MiB each.
        var calls = Enumerable.Range(1, 64).SelectMany(i =>
            Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Big", "u", 256u * 1024).Serialize((uint)i, out _)).ToArray();
        string file = Path.Combine(_dir.Path, "flood");
        await File.WriteAllBytesAsync(file, calls);

        await using var nobody = HostilePeer.Send(_dir.Socket, Nobody, 4, file, prefix: 0, replies: 0);
        Assert.Equal("open 4 refused 0", await nobody.ReadLineAsync());
        await WaitUntilAsync(() => Reasons(Nobody, "limit per user").Length > 0,
            () => $"a flooding connection was cut off at the per-user queue limit (disconnects of uid {Nobody}: {string.Join("; ", Reasons(Nobody, ""))}; usage {server.GetUserUsage(Nobody)})");
        Assert.Contains($"peer is not reading: its uid {Nobody} would have more than {perUser} bytes queued, the limit per user", Reasons(Nobody, "limit per user"));
        Assert.True(server.GetUserUsage(Nobody)!.PeakOutgoingBytes <= perUser);
        Assert.Equal("root reads its replies", await RootEchoAsync("root reads its replies"));
    }
}
