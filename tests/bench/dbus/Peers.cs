using System.Collections.Concurrent;
using System.Diagnostics;
using Supervisor.DBus.Bench.Interop;

namespace Supervisor.DBus.Bench;

/// <summary>
/// A process the bench started: stdout and stderr drained into memory (shown if it fails), stopped
/// with SIGTERM by its own PID.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ChildProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Output => string.Join('\n', _output.TakeLast(40));

    /// <summary>Starts <paramref name="file"/>; <paramref name="onLine"/> sees every stdout line.</summary>
    public static ChildProcess Start(string file, IEnumerable<string> args, Action<string>? onLine = null)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = psi };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            child._output.Enqueue(e.Data);
            onLine?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null) child._output.Enqueue(e.Data);
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"cannot start '{file}': {e.Message}", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGTERM, then waits; true if it exited within <paramref name="timeout"/>.</summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return true;
        Kill.Send(_process.Id, Kill.SIGTERM);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _process.Dispose();
}

/// <summary>
/// A private dbus-daemon on a socket in a temp directory (config from
/// shared/reference/dbus-and-metrics.md B.1), reporting its address with --print-address.
/// </summary>
internal sealed class PrivateBus : IAsyncDisposable
{
    private readonly DirectoryInfo _dir;
    private readonly ChildProcess _daemon;

    private PrivateBus(DirectoryInfo dir, ChildProcess daemon)
    {
        _dir = dir;
        _daemon = daemon;
    }

    public string Address { get; private set; } = "";
    public int Pid => _daemon.Pid;

    public static async Task<PrivateBus> StartAsync(string dbusDaemon)
    {
        var dir = Directory.CreateTempSubdirectory("supervisor-bench-bus-");
        var config = Path.Combine(dir.FullName, "bus.conf");
        File.WriteAllText(config, $"""
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:path={dir.FullName}/bus.sock</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
                <allow user="*"/>
              </policy>
            </busconfig>
            """);
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ChildProcess daemon;
        try
        {
            daemon = ChildProcess.Start(dbusDaemon, [$"--config-file={config}", "--nofork", "--print-address=1"],
                line => address.TrySetResult(line.Trim()));
        }
        catch
        {
            dir.Delete(recursive: true);
            throw;
        }
        var bus = new PrivateBus(dir, daemon);
        try
        {
            bus.Address = await address.Task.WaitAsync(TimeSpan.FromSeconds(10));
            return bus;
        }
        catch (TimeoutException)
        {
            await bus.DisposeAsync();
            throw new InvalidOperationException($"dbus-daemon printed no address within 10 s; its output:\n{daemon.Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!await _daemon.StopAsync(TimeSpan.FromSeconds(10)))
        {
            Console.Error.WriteLine($"bench: dbus-daemon (pid {_daemon.Pid}) did not exit within 10 s of SIGTERM; it is still running");
        }
        _daemon.Dispose();
        _dir.Delete(recursive: true);
    }
}

/// <summary>
/// The supervisor daemon (`supervisor.dll run`) with a throwaway units directory of `sleep`
/// units, its own state and runtime directories and a unique cgroup root, stopped with SIGTERM
/// (it then stops its units and removes its cgroups).
/// </summary>
internal sealed class SupervisorDaemon : IAsyncDisposable
{
    private readonly DirectoryInfo _dir;
    private readonly ChildProcess _daemon;

    private SupervisorDaemon(DirectoryInfo dir, ChildProcess daemon, string cgroupRoot, string[] units)
    {
        _dir = dir;
        _daemon = daemon;
        CgroupRoot = cgroupRoot;
        Units = units;
        Address = $"unix:path={Path.Combine(dir.FullName, "run", "private")}";
    }

    public string Address { get; }
    public string CgroupRoot { get; }
    public string[] Units { get; }
    public int Pid => _daemon.Pid;
    /// <summary>The options beyond units, state, runtime dir and cgroup root it was started with.</summary>
    public string ExtraOptions { get; private init; } = "";

    public static async Task<SupervisorDaemon> StartAsync(string supervisorDll, int unitCount)
    {
        var dir = Directory.CreateTempSubdirectory("supervisor-bench-");
        string cgroupRoot = "supervisor-bench-" + Guid.NewGuid().ToString("N")[..8];
        var unitsDir = Path.Combine(dir.FullName, "units");
        Directory.CreateDirectory(unitsDir);
        // The supervisor refuses unit files others could change; set the modes explicitly so a
        // permissive umask does not matter.
        File.SetUnixFileMode(unitsDir, (UnixFileMode)0x1ED /* 0755 */);
        var units = Enumerable.Range(0, unitCount).Select(i => $"bench{i}").ToArray();
        foreach (var unit in units)
        {
            var file = Path.Combine(unitsDir, unit + ".toml");
            File.WriteAllText(file, "[Service]\nExecStart = [\"/bin/sleep\", \"100000\"]\n");
            File.SetUnixFileMode(file, (UnixFileMode)0x1A4 /* 0644 */);
        }
        List<string> args =
        [
            supervisorDll, "run", "--units", unitsDir,
            "--state-dir", Path.Combine(dir.FullName, "state"),
            "--runtime-dir", Path.Combine(dir.FullName, "run"),
            "--cgroup-root", cgroupRoot,
        ];
        // Only the private socket: the bench must not take io.supervisor.Supervisor1 on a system bus
        // nor the metrics port (another daemon may hold them). Asked of `run --help`, because
        // builds without these options refuse them.
        string runHelp = Bench.Output("dotnet", supervisorDll, "run", "--help");
        if (runHelp.Contains("--system-bus", StringComparison.Ordinal)) args.AddRange(["--system-bus", "off"]);
        if (runHelp.Contains("--metrics-listen", StringComparison.Ordinal)) args.AddRange(["--metrics-listen", "off"]);
        ChildProcess daemon;
        try
        {
            daemon = ChildProcess.Start("dotnet", args);
        }
        catch
        {
            dir.Delete(recursive: true);
            throw;
        }
        var started = new SupervisorDaemon(dir, daemon, cgroupRoot, units) { ExtraOptions = string.Join(" ", args.Skip(10)) };
        try
        {
            await started.WaitUntilActiveAsync(TimeSpan.FromSeconds(60));
            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    /// <summary>Until the socket answers and every unit is active.</summary>
    private async Task WaitUntilActiveAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        string last = "the control socket does not exist yet";
        while (deadline.Elapsed < timeout)
        {
            if (_daemon.HasExited)
            {
                throw new InvalidOperationException($"the supervisor exited while starting; its output:\n{_daemon.Output}");
            }
            if (File.Exists(Address["unix:path=".Length..]))
            {
                try
                {
                    await using var c = await DBusConnection.ConnectAsync(Address);
                    var states = new List<string>();
                    foreach (var unit in Units)
                    {
                        states.Add(await Bench.ActiveStateAsync(c, unit));
                    }
                    if (states.All(s => s == "active")) return;
                    last = "unit states: " + string.Join(", ", Units.Zip(states, (u, s) => $"{u}={s}"));
                }
                catch (Exception e) when (e is DBusErrorException or DBusConnectionClosedException or System.Net.Sockets.SocketException)
                {
                    last = e.Message;
                }
            }
            await Task.Delay(100, Bench.Interrupted.Token);
        }
        throw new InvalidOperationException($"the supervisor's units were not all active within {timeout.TotalSeconds} s ({last}); its output:\n{_daemon.Output}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!await _daemon.StopAsync(TimeSpan.FromSeconds(60)))
        {
            Console.Error.WriteLine($"bench: the supervisor (pid {_daemon.Pid}) did not exit within 60 s of SIGTERM; it is still running, and so may its units in cgroup '{CgroupRoot}'");
        }
        _daemon.Dispose();
        // SIGTERM makes the supervisor remove its cgroup subtree; say so if it did not.
        var left = Directory.GetDirectories("/sys/fs/cgroup")
            .Append("/sys/fs/cgroup")
            .Select(h => Path.Combine(h, CgroupRoot))
            .Where(Directory.Exists)
            .ToArray();
        if (left.Length > 0)
        {
            Console.Error.WriteLine($"bench: the supervisor left cgroups behind: {string.Join(' ', left)}");
        }
        _dir.Delete(recursive: true);
    }
}
