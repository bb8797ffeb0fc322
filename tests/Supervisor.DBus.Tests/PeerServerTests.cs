using System.Collections.Concurrent;

namespace Supervisor.DBus.Tests;

/// <summary>Our peer-to-peer server against real clients nobody here wrote, and against our own client.</summary>
public sealed class PeerServerTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly TestService _service = new();
    private DBusServer _server = null!;
    private readonly ConcurrentQueue<(DBusServerClient Client, Exception? Reason)> _disconnects = new();

    private string Address => "unix:path=" + _dir.Socket;

    public ValueTask InitializeAsync()
    {
        _server = DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_110_110, _service.Registry, new DBusServerOptions { Names = new[] { TestService.Name } });
        _server.ClientDisconnected += (c, e) => _disconnects.Enqueue((c, e));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Assert.False(File.Exists(_dir.Socket), "the server removes its socket");
        _dir.Dispose();
    }

    [Fact]
    public void Socket_is_created_with_the_requested_mode()
    {
        Assert.Equal((UnixFileMode)0b110_110_110, File.GetUnixFileMode(_dir.Socket));
    }

    [Fact]
    public async Task Server_reports_each_peer_with_its_kernel_credentials_and_a_clean_disconnect()
    {
        var connected = new TaskCompletionSource<DBusServerClient>();
        _server.ClientConnected += c => connected.TrySetResult(c);
        var c = await DBusConnection.ConnectAsync(Address);
        var client = await connected.Task.WaitAsync(Tool.Timeout);
        Assert.Equal(Environment.ProcessId, client.Credentials.ProcessId);
        Assert.Equal(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t')[1], client.Credentials.UserId.ToString());
        Assert.Same(client.Connection!.PeerCredentials, client.Credentials);
        Assert.Equal(c.UniqueName, client.Connection.UniqueName);
        await c.DisposeAsync();
        var deadline = DateTime.UtcNow + Tool.Timeout;
        while (_disconnects.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.True(_disconnects.TryDequeue(out var gone));
        Assert.Same(client, gone.Client);
        Assert.Null(gone.Reason);
    }

    [Fact]
    public async Task A_synchronous_handler_is_answered_on_the_servers_epoll_thread_without_a_thread_pool_hop()
    {
        await using var c = await DBusConnection.ConnectAsync(Address);
        // The first call may be read by the thread that started the connection's read loop; once
        // the loop has waited for input, the server's epoll thread carries every call after it.
        string last = "";
        for (int i = 0; i < 20; i++)
            last = (string)(await c.CallAsync(TestService.Name, TestService.Path, TestService.Interface, "ThreadName"))[0];
        Assert.Equal("D-Bus server", last);
    }

    [Fact]
    public async Task Busctl_introspects_calls_and_reads_properties()
    {
        Tool.Require("/usr/bin/busctl", "systemd");
        string xml = await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "introspect", TestService.Name, TestService.Path.Value);
        Assert.Contains(".Echo", xml);
        Assert.Contains("org.freedesktop.DBus.Properties", xml);
        Assert.Contains("\"1.2.3\"", xml); // busctl reads property values with GetAll
        Assert.Contains("emits-change writable", xml.Replace("  ", " "));

        Assert.Equal("s \"hello world\"", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, TestService.Path.Value, TestService.Interface, "Echo", "s", "hello world")).Trim());
        Assert.Equal("i 5", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, TestService.Path.Value, TestService.Interface, "Add", "ii", "2", "3")).Trim());
        Assert.Equal("s \"active\"", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "get-property", TestService.Name, TestService.UnitPath.Value, "io.supervisor.Unit1", "ActiveState")).Trim());
        string tree = await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "tree", TestService.Name);
        Assert.Contains("/io/supervisor/Test1/unit/web_2eservice", tree);
    }

    [Fact]
    public async Task Busctl_sees_handler_errors_by_name()
    {
        Tool.Require("/usr/bin/busctl", "systemd");
        var (code, _, stderr) = await Tool.RunAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, TestService.Path.Value, TestService.Interface, "Fail");
        Assert.NotEqual(0, code);
        Assert.Contains("nope, on purpose", stderr);
        (code, _, stderr) = await Tool.RunAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, "/no/such", TestService.Interface, "Echo", "s", "x");
        Assert.NotEqual(0, code);
        Assert.Contains("Unknown object", stderr);
    }

    [Fact]
    public async Task Gdbus_introspects_recursively_and_calls()
    {
        Tool.Require("/usr/bin/gdbus", "libglib2.0-bin");
        string xml = await Tool.RunOkAsync("/usr/bin/gdbus", "introspect", "--address", Address, "--dest", TestService.Name, "--object-path", "/io/supervisor", "--recurse");
        Assert.Contains("Echo(in  s text,", xml);
        Assert.Contains("readonly s ActiveState", xml);
        Assert.Contains("node /io/supervisor/Test1/unit/web_2eservice", xml);
        Assert.Equal("('hi',)", (await Tool.RunOkAsync("/usr/bin/gdbus", "call", "--address", Address, "--dest", TestService.Name, "--object-path", TestService.Path.Value, "--method", TestService.Interface + ".Echo", "hi")).Trim());
        var (code, _, stderr) = await Tool.RunAsync("/usr/bin/gdbus", "call", "--address", Address, "--dest", TestService.Name, "--object-path", TestService.Path.Value, "--method", TestService.Interface + ".Nope");
        Assert.NotEqual(0, code);
        Assert.Contains("org.freedesktop.DBus.Error.UnknownMethod", stderr);
    }

    [Fact]
    public async Task Dbus_send_peer_mode_calls_without_hello()
    {
        Tool.Require("/usr/bin/dbus-send", "dbus-bin");
        string reply = await Tool.RunOkAsync("/usr/bin/dbus-send", "--peer=" + Address, "--print-reply", "--dest=" + TestService.Name, TestService.Path.Value, TestService.Interface + ".Echo", "string:peer");
        Assert.Contains("string \"peer\"", reply);
        reply = await Tool.RunOkAsync("/usr/bin/dbus-send", "--peer=" + Address, "--print-reply", "--dest=" + TestService.Name, TestService.Path.Value, "org.freedesktop.DBus.Properties.Get", "string:" + TestService.Interface, "string:Version");
        Assert.Contains("variant       string \"1.2.3\"", reply);
        reply = await Tool.RunOkAsync("/usr/bin/dbus-send", "--peer=" + Address, "--print-reply", TestService.Path.Value, "org.freedesktop.DBus.Peer.GetMachineId");
        Assert.Contains((await File.ReadAllTextAsync("/etc/machine-id")).Trim(), reply);
    }

    [Fact]
    public async Task Python_dbus_calls_over_a_peer_connection()
    {
        Tool.RequirePythonDbus();
        string script = $$"""
            import dbus
            c = dbus.connection.Connection("{{Address}}")
            o = c.get_object("{{TestService.Name}}", "{{TestService.Path}}")
            print(o.Echo("from python", dbus_interface="{{TestService.Interface}}"))
            print(o.Get("{{TestService.Interface}}", "Labels", dbus_interface="org.freedesktop.DBus.Properties")["tier"])
            """;
        string output = await Tool.RunOkAsync("/usr/bin/python3", "-c", script);
        Assert.Equal("from python\nweb\n", output);
    }

    [Fact]
    public async Task Our_client_says_hello_gets_a_unique_name_and_signals_reach_every_peer()
    {
        await using var a = await DBusConnection.ConnectAsync(Address);
        await using var b = await DBusConnection.ConnectAsync(Address);
        Assert.Matches(@"^:1\.\d+$", a.UniqueName);
        Assert.NotEqual(a.UniqueName, b.UniqueName);
        Assert.Equal(DBusConnection.BusName, await a.GetNameOwnerAsync(TestService.Name));
        Assert.Equal(a.UniqueName, await b.GetNameOwnerAsync(a.UniqueName!));
        Assert.Null(await a.GetNameOwnerAsync("io.nobody.Here"));
        Assert.Equal(RequestNameReply.PrimaryOwner, await a.RequestNameAsync("io.supervisor.Client"));
        Assert.Equal(RequestNameReply.AlreadyOwner, await a.RequestNameAsync("io.supervisor.Client"));
        Assert.Equal(RequestNameReply.Exists, await b.RequestNameAsync("io.supervisor.Client"));

        var gotA = new TaskCompletionSource<Message>();
        var gotB = new TaskCompletionSource<Message>();
        var rule = new MatchRule { Type = MessageType.Signal, Interface = TestService.Interface, Member = "Changed" };
        await using var ma = await a.AddMatchAsync(rule, m => gotA.TrySetResult(m));
        await using var mb = await b.AddMatchAsync(rule, m => gotB.TrySetResult(m));
        _service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "state");
        Assert.Equal("state", (await gotA.Task.WaitAsync(Tool.Timeout)).Body[0]);
        Assert.Equal("state", (await gotB.Task.WaitAsync(Tool.Timeout)).Body[0]);
    }

    [Fact]
    public async Task Properties_are_read_for_a_change_signal_only_while_a_peer_is_connected()
    {
        // A daemon with nobody listening pays nothing per state change; once a peer connects, it hears them.
        int reads = 0;
        var registry = new DBusObjectRegistry();
        registry.Register(TestService.Path, new DBusInterface(TestService.Interface).AddProperty("State", "s", () => { reads++; return "up"; }));
        using var dir = new TempDir();
        await using var server = DBusServer.Listen(dir.Socket, (UnixFileMode)0b110_000_000, registry);
        registry.EmitPropertiesChanged(TestService.Path, TestService.Interface, "State");
        Assert.False(registry.HasListeners);
        Assert.Equal(0, reads);

        await using var peer = await DBusConnection.ConnectAsync("unix:path=" + dir.Socket);
        var got = new TaskCompletionSource<Message>();
        await using var match = await peer.AddMatchAsync(new MatchRule { Type = MessageType.Signal, Member = "PropertiesChanged" }, m => got.TrySetResult(m));
        Assert.True(registry.HasListeners);
        registry.EmitPropertiesChanged(TestService.Path, TestService.Interface, "State");
        var signal = await got.Task.WaitAsync(Tool.Timeout);
        Assert.Equal(TestService.Interface, signal.Body[0]);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task Standard_errors_and_handler_exceptions_keep_the_connection_alive()
    {
        await using var c = await DBusConnection.ConnectAsync(Address);
        async Task<string> ErrorOf(Func<Task> call) => (await Assert.ThrowsAsync<DBusErrorException>(call)).ErrorName;

        Assert.Equal("io.supervisor.Test1.Error.Nope", await ErrorOf(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Fail")));
        Assert.Equal(DBusErrors.Failed, await ErrorOf(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Crash")));
        Assert.Equal(DBusErrors.UnknownObject, await ErrorOf(() => c.CallAsync(null, "/nope", TestService.Interface, "Echo", "s", new object[] { "x" })));
        Assert.Equal(DBusErrors.UnknownInterface, await ErrorOf(() => c.CallAsync(null, TestService.Path, "io.nope.Iface", "Echo", "s", new object[] { "x" })));
        Assert.Equal(DBusErrors.UnknownMethod, await ErrorOf(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Nope")));
        Assert.Equal(DBusErrors.InvalidArgs, await ErrorOf(() => c.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "u", new object[] { 1u })));
        Assert.Equal(DBusErrors.UnknownProperty, await ErrorOf(() => c.CallAsync(null, TestService.Path, "org.freedesktop.DBus.Properties", "Get", "ss", new object[] { TestService.Interface, "Nope" })));
        Assert.Equal(DBusErrors.PropertyReadOnly, await ErrorOf(() => c.CallAsync(null, TestService.Path, "org.freedesktop.DBus.Properties", "Set", "ssv", new object[] { TestService.Interface, "Version", new Variant("s", "9") })));
        Assert.Equal(DBusErrors.InvalidArgs, await ErrorOf(() => c.CallAsync(null, TestService.Path, "org.freedesktop.DBus.Properties", "Set", "ssv", new object[] { TestService.Interface, "Counter", new Variant("s", "9") })));
        // A method found without an INTERFACE field.
        Assert.Equal("still here", (await c.CallAsync(null, TestService.Path, null, "Echo", "s", new object[] { "still here" }))[0]);
        Assert.False(c.IsClosed);
    }

    [Fact]
    public async Task Property_set_emits_PropertiesChanged_and_GetAll_returns_all()
    {
        await using var c = await DBusConnection.ConnectAsync(Address);
        var changed = new TaskCompletionSource<Message>();
        await using var m = await c.AddMatchAsync(new MatchRule { Interface = "org.freedesktop.DBus.Properties", Member = "PropertiesChanged" }, msg => changed.TrySetResult(msg));
        await c.CallAsync(null, TestService.Path, "org.freedesktop.DBus.Properties", "Set", "ssv", new object[] { TestService.Interface, "Counter", new Variant("u", 41u) });
        var signal = await changed.Task.WaitAsync(Tool.Timeout);
        Assert.Equal("sa{sv}as", signal.Signature.Value);
        Assert.Equal(TestService.Interface, signal.Body[0]);
        var entry = Assert.Single((KeyValuePair<object, object>[])signal.Body[1]);
        Assert.Equal("Counter", entry.Key);
        Assert.Equal(new Variant("u", 41u), entry.Value);

        var all = (KeyValuePair<object, object>[])(await c.CallAsync(null, TestService.Path, "org.freedesktop.DBus.Properties", "GetAll", "s", new object[] { TestService.Interface }))[0];
        Assert.Equal(new[] { "Counter", "Labels", "Version" }, all.Select(e => (string)e.Key));
        Assert.Equal(new Variant("u", 41u), all[0].Value);
    }

    [Fact]
    public async Task A_non_root_caller_is_seen_with_its_real_uid_and_refused_a_mutating_call()
    {
        Tool.RequireRoot();
        Tool.Require("/usr/bin/setpriv", "util-linux");
        Tool.Require("/usr/bin/busctl", "systemd");
        string[] asNobody = { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/busctl", "--address=" + Address };
        Assert.Equal("u 65534", (await Tool.RunOkAsync("/usr/bin/setpriv", asNobody.Concat(new[] { "call", TestService.Name, TestService.Path.Value, TestService.Interface, "WhoAmI" }).ToArray())).Trim());
        var (code, _, stderr) = await Tool.RunAsync("/usr/bin/setpriv", asNobody.Concat(new[] { "call", TestService.Name, TestService.Path.Value, TestService.Interface, "Secret" }).ToArray());
        Assert.NotEqual(0, code);
        Assert.Contains("Access denied", stderr); // busctl prints AccessDenied by its errno text
        // Reads stay open to everyone.
        Assert.Equal("s \"1.2.3\"", (await Tool.RunOkAsync("/usr/bin/setpriv", asNobody.Concat(new[] { "get-property", TestService.Name, TestService.Path.Value, TestService.Interface, "Version" }).ToArray())).Trim());
        // And root passes the same check.
        Assert.Equal("u 0", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, TestService.Path.Value, TestService.Interface, "WhoAmI")).Trim());
        Assert.Equal("s \"only for root\"", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + Address, "call", TestService.Name, TestService.Path.Value, TestService.Interface, "Secret")).Trim());
    }

    [Fact]
    public async Task Unix_fds_pass_both_ways_between_our_client_and_server()
    {
        await using var c = await DBusConnection.ConnectAsync(Address);
        Assert.True(c.UnixFdsEnabled);
        using (var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out))
        {
            using (var writer = new StreamWriter(pipe, leaveOpen: true)) writer.Write("through SCM_RIGHTS");
            var readEnd = pipe.ClientSafePipeHandle;
            pipe.Dispose(); // close our write end so the server's read sees EOF
            var reply = await c.CallAsync(null, TestService.Path, TestService.Interface, "ReadFd", "h", new object[] { readEnd });
            Assert.Equal("through SCM_RIGHTS", reply[0]);
            readEnd.Dispose();
        }

        using var fromServer = await c.CallMethodAsync(Message.MethodCall(null, TestService.Path, TestService.Interface, "MakeFd", "s", "made by the server"));
        var fd = Assert.IsType<UnixFd>(Assert.Single(fromServer.Body));
        Assert.Same(fd, Assert.Single(fromServer.UnixFds));
        // The fd is a new descriptor in this process, not a number copied over.
        Assert.True(File.Exists($"/proc/self/fd/{fd.Fd}"));
        Assert.StartsWith("pipe:", new FileInfo($"/proc/self/fd/{fd.Fd}").LinkTarget);
        using var handle = fd.Take();
        using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(handle.DangerousGetHandle(), false), FileAccess.Read);
        Assert.Equal("made by the server", new StreamReader(stream).ReadToEnd());
    }

    [Fact]
    public async Task A_stale_socket_is_replaced_and_a_live_one_is_refused()
    {
        var error = Assert.Throws<IOException>(() => DBusServer.Listen(_dir.Socket, (UnixFileMode)0b110_000_000, new DBusObjectRegistry()));
        Assert.Contains("another process is listening", error.Message);

        string stale = Path.Combine(_dir.Path, "stale");
        using (var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            s.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(stale)); // bound, never listening, then closed: a leftover
        }
        await using var second = DBusServer.Listen(stale, (UnixFileMode)0b110_000_000, _service.Registry);
        await using var c = await DBusConnection.ConnectAsync("unix:path=" + stale, new DBusConnectionOptions { SayHello = false });
        Assert.Equal("ok", (await c.CallAsync(null, TestService.Path, TestService.Interface, "Echo", "s", new object[] { "ok" }))[0]);

        string regular = Path.Combine(_dir.Path, "file");
        await File.WriteAllTextAsync(regular, "x");
        Assert.Contains("not a socket", Assert.Throws<IOException>(() => DBusServer.Listen(regular, (UnixFileMode)0b110_000_000, new DBusObjectRegistry())).Message);
    }
}

/// <summary>Many peers at once: every call answered, and idle connections hold no threads.</summary>
public sealed class ManyClientsTests
{
    [Fact]
    public async Task Two_hundred_clients_call_concurrently_without_a_thread_each()
    {
        const int clients = 200;
        using var dir = new TempDir();
        var service = new TestService();
        await using var server = DBusServer.Listen(dir.Socket, (UnixFileMode)0b110_000_000, service.Registry);
        var connections = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => DBusConnection.ConnectAsync("unix:path=" + dir.Socket)));
        try
        {
            var replies = await Task.WhenAll(connections.Select((c, i) => c.CallAsync(null, TestService.Path, TestService.Interface, "Add", "ii", new object[] { i, 1 })));
            Assert.Equal(Enumerable.Range(1, clients), replies.Select(r => (int)r[0]));
            Assert.Equal(clients, server.ConnectionCount);
            // 400 connection ends (client and server side) are open in this process; a thread per
            // connection would show here.
            int threads = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
            Assert.True(threads < clients, $"{threads} threads for {clients} connections");
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }
}
