using System.Collections.Concurrent;

namespace Supervisor.DBus.Tests;

/// <summary>
/// The per-user limits with in-process clients, for any user: the server is told to treat
/// every peer as unprivileged (or every peer as privileged), since a second uid needs root
/// (HostilePeerTests does it for real).
/// </summary>
public sealed class QuotaTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly ConcurrentQueue<(DBusServerClient Client, Exception? Reason)> _disconnects = new();
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DBusServer? _server;

    private string Address => "unix:path=" + _dir.Socket;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    private DBusServer Listen(DBusServerOptions options)
    {
        var registry = new DBusObjectRegistry();
        registry.Register(TestService.Path, new DBusInterface(TestService.Interface)
            .AddMethod("Echo", "s", "s", (_, args) => ValueTask.FromResult(new object[] { args[0] }))
            .AddMethod("Slow", "", "s", async (_, _) =>
            {
                await _release.Task;
                return new object[] { "done at last" };
            }));
        _server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, registry, options);
        _server.ClientDisconnected += (c, e) => _disconnects.Enqueue((c, e));
        return _server;
    }

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        if (_server != null) await _server.DisposeAsync();
        _dir.Dispose();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Tool.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    private int Reasons(string containing) => _disconnects.Count(d => d.Reason?.Message.Contains(containing, StringComparison.Ordinal) == true);

    [Fact]
    public async Task A_peer_waiting_for_its_call_is_not_idle_and_one_that_sends_nothing_is()
    {
        Listen(new DBusServerOptions { IdleTimeout = TimeSpan.FromSeconds(2), PrivilegeOverride = _ => false });
        await using var waiting = await DBusConnection.ConnectAsync(Address, new DBusConnectionOptions { SayHello = false });
        var slow = waiting.CallAsync(null, TestService.Path, TestService.Interface, "Slow");
        await using var silent = await DBusConnection.ConnectAsync(Address, new DBusConnectionOptions { SayHello = false });

        await silent.Completion.WaitAsync(Tool.Timeout);
        await WaitUntilAsync(() => Reasons("idle: sent no complete message for 2 s") == 1, "the server reported the silent peer");
        // The silent peer connected after the waiting one's call, so longer than the timeout has
        // passed since that call, and the waiting peer is still served.
        Assert.False(waiting.IsClosed);
        _release.SetResult();
        Assert.Equal("done at last", (await slow.WaitAsync(Tool.Timeout))[0]);
        // Its clock starts again with the reply.
        await waiting.Completion.WaitAsync(Tool.Timeout);
        await WaitUntilAsync(() => Reasons("idle") == 2, "the server reported the waiting peer too");
    }

    [Fact]
    public async Task The_per_user_connection_limit_binds_unprivileged_peers_only()
    {
        bool privileged = false;
        Listen(new DBusServerOptions { MaxConnectionsPerUser = 2, PrivilegeOverride = _ => privileged });
        var unprivileged = new[] { await DBusConnection.ConnectAsync(Address), await DBusConnection.ConnectAsync(Address) };
        await Assert.ThrowsAnyAsync<Exception>(() => DBusConnection.ConnectAsync(Address));
        await WaitUntilAsync(() => Reasons("the limit per user") == 1, "the third connection was refused");

        privileged = true;
        var more = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => DBusConnection.ConnectAsync(Address)));
        Assert.Equal(7, _server!.ConnectionCount);
        foreach (var c in unprivileged.Concat(more)) await c.DisposeAsync();
    }

    [Fact]
    public async Task An_unprivileged_peer_may_not_send_a_message_over_its_size_limit()
    {
        Listen(new DBusServerOptions { MaxUnprivilegedMessageSize = 64 * 1024, PrivilegeOverride = _ => false });
        await using var c = await DBusConnection.ConnectAsync(Address);
        Assert.Equal("small", (await c.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "small" }))[0]);
        await Assert.ThrowsAsync<DBusConnectionClosedException>(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { new string('x', 100_000) }));
        await WaitUntilAsync(() => Reasons("exceeds the limit of 65536 bytes for unprivileged peers") == 1, "the server said why");
    }
}
