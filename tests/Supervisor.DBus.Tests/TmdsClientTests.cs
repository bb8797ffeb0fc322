using System.Collections.Concurrent;
using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;
using Tmds.DBus.Protocol;
using TmdsConnection = Tmds.DBus.Protocol.DBusConnection;
using TmdsMessageFlags = Tmds.DBus.Protocol.MessageFlags;
using TmdsWriter = Tmds.DBus.Protocol.MessageWriter;

namespace Supervisor.DBus.Tests;

/// <summary>
/// Tmds.DBus.Protocol, a client nobody here wrote, against our peer-to-peer server: calls with
/// and without a reply, errors, properties, signals filtered by sender, and unix fds both ways.
/// Tmds says Hello, sees a bus, and resolves a sender filter with GetNameOwner, so these also
/// check that SENDER and GetNameOwner agree (issue #12).
/// </summary>
public sealed class TmdsClientTests : IAsyncLifetime
{
    private const string PropertiesInterface = "org.freedesktop.DBus.Properties";
    private static readonly string ServicePath = TestService.Path.Value;

    private readonly TempDir _dir = new();
    private readonly TestService _service = new();
    private DBusServer _server = null!;
    private TmdsConnection _tmds = null!;

    public async ValueTask InitializeAsync()
    {
        _server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, _service.Registry, new DBusServerOptions { Names = new[] { TestService.Name } });
        _tmds = new TmdsConnection("unix:path=" + _dir.Socket);
        await _tmds.ConnectAsync().AsTask().WaitAsync(Tool.Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        _tmds.Dispose();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private MessageBuffer Call(string member, string? signature, BodyWriter? body = null, string @interface = TestService.Interface, string? path = null, TmdsMessageFlags flags = TmdsMessageFlags.None)
    {
        var writer = _tmds.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(TestService.Name, path ?? ServicePath, @interface, member, signature, flags);
            body?.Invoke(ref writer);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>Tmds's MessageWriter is a struct: the body must be written through a reference to the same one.</summary>
    private delegate void BodyWriter(ref TmdsWriter writer);

    private Task<T> CallAsync<T>(MessageBuffer call, Func<Reader, T> read) =>
        _tmds.CallMethodAsync(call, (message, _) => read(message.GetBodyReader()), null).WaitAsync(Tool.Timeout);

    [Fact]
    public async Task Tmds_says_hello_and_sees_the_served_name_owned_by_the_bus()
    {
        Assert.Matches(@"^:1\.\d+$", _tmds.UniqueName);
        var call = Call("GetNameOwner", "s", (ref TmdsWriter w) => w.WriteString(TestService.Name), "org.freedesktop.DBus", "/org/freedesktop/DBus");
        Assert.Equal("org.freedesktop.DBus", await CallAsync(call, r => r.ReadString()));
    }

    [Fact]
    public async Task Method_calls_with_replies_and_errors()
    {
        Assert.Equal("from tmds", await CallAsync(Call("Echo", "s", (ref TmdsWriter w) => w.WriteString("from tmds")), r => r.ReadString()));
        Assert.Equal(5, await CallAsync(Call("Add", "ii", (ref TmdsWriter w) => { w.WriteInt32(2); w.WriteInt32(3); }), r => r.ReadInt32()));
        var error = await Assert.ThrowsAsync<DBusErrorReplyException>(() => CallAsync(Call("Fail", null), r => 0));
        Assert.Equal("io.supervisor.Test1.Error.Nope", error.ErrorName);
        Assert.Equal("nope, on purpose", error.ErrorMessage);
        var wrong = await Assert.ThrowsAsync<DBusErrorReplyException>(() => CallAsync(Call("Echo", "u", (ref TmdsWriter w) => w.WriteUInt32(1)), r => 0));
        Assert.Equal(DBusErrors.InvalidArgs, wrong.ErrorName);
    }

    [Fact]
    public async Task A_call_without_reply_runs_and_the_connection_carries_on()
    {
        var set = Call("Set", "ssv", (ref TmdsWriter w) => { w.WriteString(TestService.Interface); w.WriteString("Counter"); w.WriteVariantUInt32(77); }, PropertiesInterface, flags: TmdsMessageFlags.NoReplyExpected);
        Assert.True(_tmds.TrySendMessage(set));
        // The effect shows on the next call; calls from one connection are handled in order.
        Assert.Equal(77u, await CallAsync(Call("Get", "ss", (ref TmdsWriter w) => { w.WriteString(TestService.Interface); w.WriteString("Counter"); }, PropertiesInterface), r => r.ReadVariantValue().GetUInt32()));
        Assert.Equal(77u, _service.Counter);
    }

    [Fact]
    public async Task Properties_Get_GetAll_Set_and_PropertiesChanged_filtered_by_sender()
    {
        var changes = new ConcurrentQueue<(string Interface, string[] Changed)>();
        using var watch = await _tmds.WatchPropertiesChangedAsync(TestService.Name, ServicePath, TestService.Interface,
            (message, _) =>
            {
                var r = message.GetBodyReader();
                string iface = r.ReadString();
                return (iface, r.ReadDictionaryOfStringToVariantValue().Keys.ToArray());
            },
            (Notification<(string, string[])> n) => { if (n.HasValue) changes.Enqueue(n.Value); },
            ObserverFlags.None, emitOnCapturedContext: false);

        Assert.Equal("1.2.3", await CallAsync(Call("Get", "ss", (ref TmdsWriter w) => { w.WriteString(TestService.Interface); w.WriteString("Version"); }, PropertiesInterface), r => r.ReadVariantValue().GetString()));
        var all = await CallAsync(Call("GetAll", "s", (ref TmdsWriter w) => w.WriteString(TestService.Interface), PropertiesInterface), r => r.ReadDictionaryOfStringToVariantValue());
        Assert.Equal(new[] { "Counter", "Labels", "Version" }, all.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("web", all["Labels"].GetDictionary<string, string>()["tier"]);

        await CallAsync(Call("Set", "ssv", (ref TmdsWriter w) => { w.WriteString(TestService.Interface); w.WriteString("Counter"); w.WriteVariantUInt32(41); }, PropertiesInterface), r => 0);
        Assert.Equal(41u, _service.Counter);
        await WaitUntilAsync(() => !changes.IsEmpty);
        var (changedInterface, changedNames) = Assert.Single(changes);
        Assert.Equal(TestService.Interface, changedInterface);
        Assert.Equal(new[] { "Counter" }, changedNames);
    }

    [Fact]
    public async Task Signals_reach_a_sender_filtered_watch_and_not_one_for_another_sender()
    {
        var ours = new ConcurrentQueue<string>();
        var others = new ConcurrentQueue<string>();
        MessageValueReader<string> readText = (message, _) => message.GetBodyReader().ReadString();
        using var forUs = await _tmds.WatchSignalAsync(TestService.Name, ServicePath, TestService.Interface, "Changed", readText,
            (Notification<string> n) => { if (n.HasValue) ours.Enqueue(n.Value); }, ObserverFlags.None, emitOnCapturedContext: false);
        using var forOther = await _tmds.WatchSignalAsync("io.supervisor.Nobody", ServicePath, TestService.Interface, "Changed", readText,
            (Notification<string> n) => { if (n.HasValue) others.Enqueue(n.Value); }, ObserverFlags.None, emitOnCapturedContext: false);

        _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "first");
        _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "second");
        await WaitUntilAsync(() => ours.Count == 2);
        Assert.Equal(new[] { "first", "second" }, ours);
        // Each signal is matched against every watch when it arrives, so a wrongly matched one
        // would already be here.
        Assert.Empty(others);
    }

    [Fact]
    public async Task Unix_fds_pass_in_and_out()
    {
        using (var pipe = new AnonymousPipeServerStream(PipeDirection.Out))
        {
            using (var writer = new StreamWriter(pipe, leaveOpen: true)) writer.Write("handed over by tmds");
            var readEnd = pipe.ClientSafePipeHandle;
            pipe.Dispose(); // our write end closes, so the server reads to EOF
            var call = Call("ReadFd", "h", (ref TmdsWriter w) => w.WriteHandle(readEnd));
            Assert.Equal("handed over by tmds", await CallAsync(call, r => r.ReadString()));
            readEnd.Dispose();
        }

        using var fromServer = await CallAsync(Call("MakeFd", "s", (ref TmdsWriter w) => w.WriteString("made by our server")), r => r.ReadHandle<SafeFileHandle>()!);
        Assert.False(fromServer.IsInvalid);
        using var stream = new FileStream(fromServer, FileAccess.Read);
        Assert.Equal("made by our server", new StreamReader(stream).ReadToEnd());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Tool.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(10);
        }
    }
}
