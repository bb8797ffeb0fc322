using System.Collections.Concurrent;
using Supervisor.Cli.Control;
using Supervisor.DBus;
using Supervisor.Supervision;
using Supervisor.Supervision.Logs;
using Supervisor.Units;

namespace Supervisor.Cli.Tests.Support;

/// <summary>
/// The daemon's control API without the daemon: a UnitManager on <see cref="AutoHost"/>, the
/// ControlApi on it, served by a DBusServer on a socket in a temporary runtime directory, so
/// client commands run against it exactly as against `supervisor run`, with no root needed.
/// </summary>
internal sealed class ApiHarness : IAsyncDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "supervisor-api-test-" + Guid.NewGuid().ToString("N")[..12]);
    public string Units => Path.Combine(Root, "units");
    public string State => Path.Combine(Root, "state");
    public string Logs => Path.Combine(State, "logs");
    public string Runtime => Path.Combine(Root, "run");
    public string Socket => Path.Combine(Runtime, "private");
    public const string CgroupRoot = "supervisor-api-test";

    public UnitManager Manager { get; }
    public AutoHost Host { get; private set; } = null!;
    public ControlApi Api { get; private set; } = null!;

    /// <summary>Lines the API wrote to units' logs through its unitLog callback, as "unit: line".</summary>
    public ConcurrentQueue<string> UnitLogLines { get; } = new();

    /// <summary>Warnings for the daemon's own log.</summary>
    public ConcurrentQueue<string> DaemonLog { get; } = new();

    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private DBusServer? _server;

    public ApiHarness()
    {
        foreach (var d in new[] { Root, Units, State, Logs, Runtime })
        {
            Directory.CreateDirectory(d);
            File.SetUnixFileMode(d, (UnixFileMode)0b111_101_101);
        }
        Manager = new UnitManager(TimeProvider.System, sink => Host = new AutoHost(sink));
    }

    public void WriteUnit(string name, string text) => File.WriteAllText(Path.Combine(Units, name + ".toml"), text);

    public static string Sleeper(string extra = "") => $"[Unit]\nDescription = \"sleeps\"\n[Service]\nExecStart = [\"/bin/sleep\", \"1000\"]\n{extra}\n";

    /// <summary>Loads the units, starts them (those the host lets start), and serves the API.</summary>
    public async Task StartAsync(bool withPaths = true, uint? adminGid = null, bool withUnitLog = true)
    {
        _loop = Manager.RunAsync(_stop.Token);
        Api = new ControlApi(Manager, _ => null, () => ReconcileAsync(), () => Task.FromResult(Manager.Preview(Load())), () => "test layout",
            adminGid, DaemonLog.Enqueue,
            withPaths ? new ControlApiPaths(Units, State, Logs, CgroupRoot) : null,
            withUnitLog ? (unit, line) => UnitLogLines.Enqueue($"{unit}: {line}") : null);
        Api.Sync();
        _server = DBusServer.Listen(Socket, (UnixFileMode)0b110_110_110, Api.Registry, new DBusServerOptions { Names = [ControlApi.BusName] });
        await ReconcileAsync();
        Api.Sync();
    }

    private UnitSet Load() => UnitLoader.LoadDirectory(Units, new LoadOptions { RequireRootOwnership = false });

    private Task<IReadOnlyList<PlanAction>> ReconcileAsync() => Manager.ReconcileAsync(Load());

    /// <summary>Waits for a unit's state; the limit only guards against a hang.</summary>
    public async Task WaitForAsync(string unit, string active)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(Manager.Units.TryGetValue(unit, out var s) && StateNames.Name(s.Active) == active))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{unit} did not become {active}");
            await Task.Delay(20);
        }
    }

    /// <summary>Writes lines to a unit's log as the daemon does.</summary>
    public void WriteLog(string unit, params string[] lines)
    {
        using var log = new UnitLog(Logs, unit, 1 << 20);
        foreach (var line in lines) log.Write("stdout", line);
    }

    public Task<DBusConnection> ConnectAsync() => DBusConnection.ConnectAsync(DBusAddress.ForUnixPath(Socket));

    public static async Task<(int Code, string Out, string Err)> RunCli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Supervisor.Cli.Cli.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _stop.Cancel();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
