namespace Supervisor.DBus.Tests;

/// <summary>Our library as a client of a real (private) dbus-daemon, exporting objects other tools call.</summary>
public sealed class BusClientTests : IClassFixture<DBusDaemonFixture>
{
    private readonly DBusDaemonFixture _bus;

    public BusClientTests(DBusDaemonFixture bus)
    {
        _bus = bus;
    }

    [Fact]
    public async Task Hello_RequestName_and_GetNameOwner_against_dbus_daemon()
    {
        _bus.RequireDaemon();
        await using var a = await DBusConnection.ConnectAsync(_bus.Address);
        await using var b = await DBusConnection.ConnectAsync(_bus.Address);
        Assert.True(a.IsBusConnection);
        Assert.Matches(@"^:1\.\d+$", a.UniqueName);
        Assert.True(a.UnixFdsEnabled, "dbus-daemon agrees to fd passing");
        Assert.Equal(_bus.Address.Split("guid=")[1], a.ServerGuid);

        string name = "io.supervisor.Test.Names" + Environment.ProcessId;
        Assert.Equal(RequestNameReply.PrimaryOwner, await a.RequestNameAsync(name));
        Assert.Equal(RequestNameReply.AlreadyOwner, await a.RequestNameAsync(name));
        Assert.Equal(RequestNameReply.Exists, await b.RequestNameAsync(name, RequestNameFlags.DoNotQueue));
        Assert.Equal(a.UniqueName, await b.GetNameOwnerAsync(name));
        Assert.Equal(1u, await a.ReleaseNameAsync(name));
        Assert.Null(await b.GetNameOwnerAsync(name));
        var id = await a.CallAsync(DBusConnection.BusName, DBusConnection.BusPath, DBusConnection.BusInterface, "GetId");
        Assert.Matches("^[0-9a-f]{32}$", (string)id[0]);
    }

    [Fact]
    public async Task Signals_arrive_only_through_matching_AddMatch_rules()
    {
        _bus.RequireDaemon();
        var service = new TestService();
        await using var emitter = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { Objects = service.Registry });
        await using var listener = await DBusConnection.ConnectAsync(_bus.Address);
        var changed = new TaskCompletionSource<Message>();
        var other = new TaskCompletionSource<Message>();
        await using var m1 = await listener.AddMatchAsync(new MatchRule { Type = MessageType.Signal, Interface = TestService.Interface, Member = "Changed", Args = { [0] = "wanted" } }, m => changed.TrySetResult(m));
        // Same member, other path: must not fire for signals from TestService.Path.
        await using var m2 = await listener.AddMatchAsync(new MatchRule { Type = MessageType.Signal, Interface = TestService.Interface, Member = "Changed", Path = new ObjectPath("/elsewhere") }, m => other.TrySetResult(m));

        service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "unwanted");
        service.Registry.EmitSignal(TestService.Path, TestService.Interface, "Changed", "s", "wanted");
        var signal = await changed.Task.WaitAsync(Tool.Timeout);
        Assert.Equal("wanted", signal.Body[0]);
        Assert.Equal(emitter.UniqueName, signal.Sender); // set by the bus
        // Signals from one sender arrive in order, so a wrongly matched one would have come first.
        Assert.False(other.Task.IsCompleted);
    }

    [Fact]
    public async Task Our_exported_object_answers_busctl_dbus_send_gdbus_and_python_through_the_bus()
    {
        _bus.RequireDaemon();
        var service = new TestService();
        await using var server = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { Objects = service.Registry });
        string name = "io.supervisor.Test.Export" + Environment.ProcessId;
        Assert.Equal(RequestNameReply.PrimaryOwner, await server.RequestNameAsync(name));

        if (File.Exists("/usr/bin/busctl"))
        {
            Assert.Equal("s \"via bus\"", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + _bus.Address, "call", name, TestService.Path.Value, TestService.Interface, "Echo", "s", "via bus")).Trim());
            string xml = await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + _bus.Address, "introspect", name, TestService.Path.Value);
            Assert.Contains(".Counter", xml);
            Assert.Equal("s \"1.2.3\"", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + _bus.Address, "get-property", name, TestService.Path.Value, TestService.Interface, "Version")).Trim());
            // On a bus the caller is identified by SENDER → GetConnectionCredentials.
            Assert.Equal("u 0", (await Tool.RunOkAsync("/usr/bin/busctl", "--address=" + _bus.Address, "call", name, TestService.Path.Value, TestService.Interface, "WhoAmI")).Trim());
        }
        if (File.Exists("/usr/bin/dbus-send"))
        {
            string reply = await Tool.RunOkAsync("/usr/bin/dbus-send", "--bus=" + _bus.Address, "--print-reply", "--dest=" + name, TestService.Path.Value, TestService.Interface + ".Add", "int32:40", "int32:2");
            Assert.Contains("int32 42", reply);
        }
        if (File.Exists("/usr/bin/gdbus"))
        {
            Assert.Equal("('g',)", (await Tool.RunOkAsync("/usr/bin/gdbus", "call", "--address", _bus.Address, "--dest", name, "--object-path", TestService.Path.Value, "--method", TestService.Interface + ".Echo", "g")).Trim());
            string xml = await Tool.RunOkAsync("/usr/bin/gdbus", "introspect", "--address", _bus.Address, "--dest", name, "--object-path", "/", "--recurse");
            Assert.Contains("node /io/supervisor/Test1/unit/web_2eservice", xml);
        }
        if (Directory.Exists("/usr/lib/python3/dist-packages/dbus"))
        {
            string script = $$"""
                import dbus
                bus = dbus.bus.BusConnection("{{_bus.Address}}")
                o = bus.get_object("{{name}}", "{{TestService.Path}}")
                print(o.Add(20, 22, dbus_interface="{{TestService.Interface}}"))
                """;
            Assert.Equal("42\n", await Tool.RunOkAsync("/usr/bin/python3", "-c", script));
        }
    }

    [Fact]
    public async Task A_non_root_caller_on_the_bus_is_identified_by_the_bus()
    {
        _bus.RequireDaemon();
        Tool.RequireRoot();
        Tool.Require("/usr/bin/setpriv", "util-linux");
        Tool.Require("/usr/bin/busctl", "systemd");
        var service = new TestService();
        await using var server = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { Objects = service.Registry });
        string name = "io.supervisor.Test.Nobody" + Environment.ProcessId;
        await server.RequestNameAsync(name);
        string[] asNobody = { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/busctl", "--address=" + _bus.Address };
        Assert.Equal("u 65534", (await Tool.RunOkAsync("/usr/bin/setpriv", asNobody.Concat(new[] { "call", name, TestService.Path.Value, TestService.Interface, "WhoAmI" }).ToArray())).Trim());
        var (code, _, stderr) = await Tool.RunAsync("/usr/bin/setpriv", asNobody.Concat(new[] { "call", name, TestService.Path.Value, TestService.Interface, "Secret" }).ToArray());
        Assert.NotEqual(0, code);
        Assert.Contains("Access denied", stderr);
    }

    [Fact]
    public async Task Unix_fds_travel_through_dbus_daemon_from_python()
    {
        _bus.RequireDaemon();
        Tool.RequirePythonDbus();
        var service = new TestService();
        await using var server = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { Objects = service.Registry });
        string name = "io.supervisor.Test.Fds" + Environment.ProcessId;
        await server.RequestNameAsync(name);
        string script = $$"""
            import dbus, os
            bus = dbus.bus.BusConnection("{{_bus.Address}}")
            o = bus.get_object("{{name}}", "{{TestService.Path}}")
            r, w = os.pipe()
            os.write(w, b"python pipe")
            os.close(w)
            print(o.ReadFd(dbus.types.UnixFd(r), dbus_interface="{{TestService.Interface}}"))
            fd = o.MakeFd("back to python", dbus_interface="{{TestService.Interface}}").take()
            print(os.read(fd, 100).decode())
            """;
        Assert.Equal("python pipe\nback to python\n", await Tool.RunOkAsync("/usr/bin/python3", "-c", script));
    }

    [Fact]
    public async Task Calls_time_out_with_NoReply_and_can_be_cancelled()
    {
        _bus.RequireDaemon();
        await using var a = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { CallTimeout = TimeSpan.FromMilliseconds(300) });
        // A connection that never answers: exists on the bus but has no handler loop for this path.
        var silentRegistry = new DBusObjectRegistry();
        var never = new TaskCompletionSource<object[]>();
        silentRegistry.Register("/silent", new DBusInterface("io.supervisor.Silent").AddMethod("Wait", "", "", (ctx, args) => new ValueTask<object[]>(never.Task)));
        await using var b = await DBusConnection.ConnectAsync(_bus.Address, new DBusConnectionOptions { Objects = silentRegistry });
        var error = await Assert.ThrowsAsync<DBusErrorException>(() => a.CallAsync(b.UniqueName, "/silent", "io.supervisor.Silent", "Wait"));
        Assert.Equal(DBusErrors.NoReply, error.ErrorName);

        using var cts = new CancellationTokenSource();
        var call = a.CallAsync(b.UniqueName, "/silent", "io.supervisor.Silent", "Wait", cancellationToken: cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        never.SetResult(Array.Empty<object>());
    }
}
