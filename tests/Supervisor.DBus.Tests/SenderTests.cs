using System.Diagnostics;

namespace Supervisor.DBus.Tests;

/// <summary>
/// Issue #12: on the peer-to-peer socket every message the server sends carries SENDER, and
/// it is the name GetNameOwner gives for the served names, so clients that filter signals by
/// sender (gdbus monitor --dest, Tmds.DBus; see TmdsClientTests) receive them.
/// </summary>
public sealed class SenderTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly TestService _service = new();
    private DBusServer _server = null!;

    private string Address => "unix:path=" + _dir.Socket;

    public ValueTask InitializeAsync()
    {
        _server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, _service.Registry, new DBusServerOptions { Names = new[] { TestService.Name } });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Replies_errors_signals_and_bus_messages_all_carry_the_owner_GetNameOwner_reports()
    {
        await using var client = await DBusConnection.ConnectAsync(Address);
        string owner = (await client.GetNameOwnerAsync(TestService.Name))!;
        Assert.Equal("org.freedesktop.DBus", owner);

        using var raw = await RawClient.ConnectAsync(_dir.Socket);
        await raw.AuthenticateAsync();
        await raw.SendAsync(Message.MethodCall("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello").Serialize(1, out _));
        var hello = await raw.ReadMessageAsync();
        var acquired = await raw.ReadMessageAsync();
        Assert.Equal("NameAcquired", acquired.Member);
        await raw.SendAsync(Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Echo", "s", "x").Serialize(2, out _));
        var reply = await raw.ReadMessageAsync();
        await raw.SendAsync(Message.MethodCall(TestService.Name, TestService.Path, TestService.Interface, "Fail").Serialize(3, out _));
        var error = await raw.ReadMessageAsync();
        _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "now");
        var signal = await raw.ReadMessageAsync();

        Assert.Equal(MessageType.Error, error.Type);
        Assert.Equal(MessageType.Signal, signal.Type);
        Assert.All(new[] { hello, acquired, reply, error, signal }, m => Assert.Equal(owner, m.Sender));
    }

    [Fact]
    public async Task Gdbus_monitor_with_dest_receives_the_servers_signals()
    {
        Tool.Require("/usr/bin/gdbus", "libglib2.0-bin");
        var psi = new ProcessStartInfo("/usr/bin/gdbus") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "monitor", "--address", Address, "--dest", TestService.Name }) psi.ArgumentList.Add(a);
        using var monitor = Process.Start(psi)!;
        _ = monitor.StandardError.ReadToEndAsync();
        try
        {
            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Task.Run(async () =>
            {
                while (await monitor.StandardOutput.ReadLineAsync() is { } line)
                {
                    if (line.Contains("Changed", StringComparison.Ordinal)) seen.TrySetResult(line);
                }
                seen.TrySetException(new InvalidOperationException("gdbus monitor exited without printing the signal"));
            });
            // gdbus subscribes asynchronously (GetNameOwner, then AddMatch); emit until it reports one.
            var deadline = DateTime.UtcNow + Tool.Timeout;
            while (!seen.Task.IsCompleted && DateTime.UtcNow < deadline)
            {
                _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "seen by gdbus");
                await Task.WhenAny(seen.Task, Task.Delay(100));
            }
            string printed = await seen.Task.WaitAsync(Tool.Timeout);
            Assert.Contains($"{TestService.Path}: {TestService.Interface}.Changed ('seen by gdbus',)", printed);
        }
        finally
        {
            // Only the process we started, by its PID.
            monitor.Kill();
            await monitor.WaitForExitAsync();
        }
    }
}
