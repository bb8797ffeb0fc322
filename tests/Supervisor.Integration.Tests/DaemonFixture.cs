using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Supervisor.Integration.Tests;

/// <summary>
/// One `supervisor run` process with its own units, state, runtime and cgroup directories, so
/// tests never touch a real installation and leave nothing behind: the daemon is stopped with
/// SIGTERM (it stops its units and removes its cgroups), and anything left is killed by cgroup.
/// </summary>
public sealed class Daemon : IAsyncDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "supervisor-it-" + Guid.NewGuid().ToString("N")[..12]);
    public string Units => Path.Combine(Root, "units");
    public string State => Path.Combine(Root, "state");
    public string Runtime => Path.Combine(Root, "run");
    public string CgroupRoot { get; } = "supervisor-test-" + Guid.NewGuid().ToString("N")[..8];
    private Process? _process;
    private readonly StringBuilder _log = new();

    public static void RequireRoot()
    {
        if (Environment.UserName != "root" && !IsRoot()) Assert.Skip("needs root: the daemon creates cgroups and namespaces");
        if (!Directory.Exists("/sys/fs/cgroup")) Assert.Skip("no cgroup filesystem");
    }

    private static bool IsRoot() => File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0";

    public Daemon()
    {
        Directory.CreateDirectory(Units);
        foreach (var d in new[] { Root, Units }) File.SetUnixFileMode(d, (UnixFileMode)0b111_101_101);
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public void WriteUnit(string name, string text) => File.WriteAllText(Path.Combine(Units, name + ".toml"), text);

    public static string SupervisorDll => Path.Combine(AppContext.BaseDirectory, "supervisor.dll");

    /// <summary>
    /// SUPERVISOR_BINARY: a published native `supervisor` (contrib/publish.sh aot) that the daemon and
    /// the client commands run as instead of `dotnet supervisor.dll` (test.sh runs some tests so).
    /// </summary>
    public static string? NativeBinary => Environment.GetEnvironmentVariable("SUPERVISOR_BINARY") is { Length: > 0 } b ? b : null;

    /// <summary>The program and arguments that run `supervisor ARGS`: the native binary, or dotnet with this build's dll.</summary>
    public static ProcessStartInfo SupervisorProcess(IEnumerable<string> args) =>
        NativeBinary is { } native ? new ProcessStartInfo(native, args) : new ProcessStartInfo("dotnet", [SupervisorDll, .. args]);

    /// <summary>Each daemon serves /metrics on a port of its own, so tests can run side by side.</summary>
    public int MetricsPort { get; } = FreePort();

    public void Start(params string[] extra)
    {
        int logBefore = Log.Length;
        var psi = SupervisorProcess(["run", "--units", Units, "--state-dir", State, "--runtime-dir", Runtime, "--cgroup-root", CgroupRoot,
            "--metrics-listen", $"127.0.0.1:{MetricsPort}", .. extra]);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        // The socket file may be a stale one from a killed instance: wait until the daemon answers.
        WaitFor(() => File.Exists(Path.Combine(Runtime, "private")) && Cli("list-units").Code == 0, "the control API to answer");
        // The control API answers before the first reconcile has loaded the units (so a failed start
        // leaves nothing running): "is running" is logged once it has.
        WaitFor(() => Log[logBefore..].Contains("supervisor is running with units from", StringComparison.Ordinal), "the units to be loaded");
    }

    /// <summary>Runs a `supervisor` client command against this daemon.</summary>
    public (int Code, string Out, string Err) Cli(params string[] args) => CliAs(null, args);

    public (int Code, string Out, string Err) CliAs(int? uid, params string[] args)
    {
        var all = new List<string>();
        string program = NativeBinary ?? "dotnet";
        if (uid is { } u)
        {
            program = "setpriv";
            all.AddRange([$"--reuid={u}", $"--regid={u}", "--clear-groups", "env", "DOTNET_CLI_HOME=/tmp", NativeBinary ?? "dotnet"]);
        }
        if (NativeBinary is null) all.Add(SupervisorDll);
        all.Add(args[0]);
        // Right after the command name: anything after "--" belongs to the user's command.
        if (args[0] is not ("logs" or "check" or "show" or "exec")) all.AddRange(["--runtime-dir", Runtime]);
        all.AddRange(args[1..]);
        var psi = new ProcessStartInfo(program, all) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public JsonElement Status(string unit)
    {
        var (code, output, error) = Cli("status", unit, "--json");
        Assert.True(code is 0 or 3, $"status {unit} failed ({code}): {error}\n{Log}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>A property as text: strings as they are, numbers and booleans as JSON writes them ("1234", "true").</summary>
    public string Prop(string unit, string name) => Status(unit).GetProperty(name) is var p && p.ValueKind == JsonValueKind.String ? p.GetString()! : p.GetRawText();

    /// <summary>Waits for a condition a person would watch for; the timeout is a safety net, not an assertion of speed.</summary>
    public void WaitFor(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true }) Assert.Fail($"the daemon exited ({_process.ExitCode}) while waiting for {what}:\n{Log}");
            if (condition()) return;
            Thread.Sleep(100);
        }
        Assert.Fail($"gave up waiting for {what}:\n{Log}");
    }

    public void WaitForState(string unit, string active, string? sub = null) =>
        WaitFor(() => { var s = Status(unit); return s.GetProperty("ActiveState").GetString() == active && (sub is null || s.GetProperty("SubState").GetString() == sub); },
            $"{unit} to be {active}{(sub is null ? "" : $" ({sub})")}");

    public int MainPid(string unit) => int.Parse(Prop(unit, "MainPID"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The unit's cgroup directory in the memory hierarchy (v1) or the unified one (v2).</summary>
    public string CgroupDir(string unit, string? slice = null)
    {
        var v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        var baseDir = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        var sliceDir = slice is null ? "" : string.Join('/', SlicePath(slice)) + "/";
        return $"{baseDir}/{CgroupRoot}/{sliceDir}{unit}.service";
    }

    private static IEnumerable<string> SlicePath(string slice)
    {
        var parts = slice.Split('-');
        for (int i = 1; i <= parts.Length; i++) yield return string.Join('-', parts[..i]) + ".slice";
    }

    public void Signal(string name) =>
        Process.Start("kill", [$"-{name}", _process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();

    /// <summary>Starts the daemon and waits for it to exit by itself (for start-up failures).</summary>
    public (int Code, string Log) RunToExit(params string[] extra)
    {
        int logBefore = Log.Length;
        var psi = SupervisorProcess(["run", "--units", Units, "--state-dir", State, "--runtime-dir", Runtime, "--cgroup-root", CgroupRoot,
            "--metrics-listen", $"127.0.0.1:{MetricsPort}", .. extra]);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)), "the daemon did not exit");
        return (p.ExitCode, output.Result + errors.Result);
    }

    /// <summary>
    /// kill -9 of the daemon once its state file remembers <paramref name="pid"/> (it is written
    /// after each burst of state changes), so a next daemon has that process to adopt.
    /// </summary>
    public void KillOnceRemembered(int pid)
    {
        var state = Path.Combine(State, "state.json");
        WaitFor(() => File.Exists(state) && File.ReadAllText(state).Contains($"\"mainPid\": {pid}", StringComparison.Ordinal), "the state file to record the unit");
        Signal("KILL");
        WaitForExit();
    }

    /// <summary>The pid of the started `supervisor run`.</summary>
    public int Pid => _process!.Id;

    public void WaitForExit()
    {
        Assert.True(_process!.WaitForExit(TimeSpan.FromSeconds(60)), "the daemon did not exit");
        _process.Dispose();
        _process = null;
    }

    public (int Code, bool Exited) Terminate()
    {
        if (_process is null || _process.HasExited) return (_process?.ExitCode ?? 0, true);
        Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        bool exited = _process.WaitForExit(TimeSpan.FromSeconds(120));
        return (exited ? _process.ExitCode : -1, exited);
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        Terminate();
        if (_process is { HasExited: false }) { _process.Kill(); await _process.WaitForExitAsync(); }
        _process?.Dispose();
        // A daemon that did not stop cleanly (a test's kill -9) leaves its output fd holder: end it.
        var holder = Path.Combine(Runtime, "fdholder");
        if (File.Exists(holder))
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Seqpacket, System.Net.Sockets.ProtocolType.Unspecified);
            try
            {
                socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(holder));
                socket.Send("QUIT"u8);
            }
            catch (System.Net.Sockets.SocketException) { } // already gone
        }
        // Anything a failed test left in our subtree is killed by cgroup, then the subtree removed.
        foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            var dir = Path.Combine(hierarchy, CgroupRoot);
            if (!Directory.Exists(dir)) continue;
            foreach (var procs in Directory.GetFiles(dir, "cgroup.procs", SearchOption.AllDirectories))
                foreach (var pid in File.ReadAllLines(procs))
                    if (int.TryParse(pid, out var p)) { try { Process.GetProcessById(p).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { } }
            foreach (var d in Directory.GetDirectories(dir, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(dir))
                for (int i = 0; i < 50; i++) { try { Directory.Delete(d); break; } catch (IOException) { Thread.Sleep(100); } }
        }
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers") && Directory.Exists($"/sys/fs/cgroup/{CgroupRoot}"))
            Directory.Delete($"/sys/fs/cgroup/{CgroupRoot}");
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}
