// Round-trip latency and throughput of the control API's commonest read, GetUnit and then
// org.freedesktop.DBus.Properties.Get(io.supervisor.Unit1, ActiveState) on the returned path, over
// the supervisor's private socket with 1, 8 and 64 concurrent clients, beside the same two-call
// pattern against a private dbus-daemon answering its own org.freedesktop.DBus.GetId, in the same
// run and interleaved (issue 7). Both targets are driven by the same client, Supervisor.DBus, one
// connection per client, so what differs between them is the server.
using System.Diagnostics;
using System.Globalization;
using Supervisor.DBus;
using Supervisor.DBus.Bench;

Options options;
try
{
    options = Options.Parse(args);
}
catch (HelpRequested)
{
    Console.WriteLine(Options.Usage);
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"bench: {e.Message}\n{Options.Usage}");
    return 2;
}

// Ctrl-C ends the measurement but not the process, so the cleanup below still runs (the children,
// in the same process group, get the SIGINT too and stop by themselves).
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Bench.Interrupted.Cancel();
};

SupervisorDaemon? ownDaemon = null;
PrivateBus? bus = null;
var connections = new List<DBusConnection>();
try
{
    string supervisorAddress;
    string[] units;
    if (options.Address != null)
    {
        supervisorAddress = options.Address;
        units = options.UnitNames;
        Console.WriteLine($"supervisor: the running daemon at {supervisorAddress}, units {string.Join(", ", units)}");
    }
    else
    {
        string dll = options.Supervisor ?? Path.Combine(Bench.RepositoryRoot(), "src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll");
        if (!File.Exists(dll))
        {
            Console.Error.WriteLine($"bench: no supervisor build at '{dll}'; build it first (dotnet build -c Release src/Supervisor.Cli) or pass --supervisor PATH");
            return 1;
        }
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("bench: starting the supervisor needs root (cgroups); run as root or pass --address of a running daemon");
            return 1;
        }
        ownDaemon = await SupervisorDaemon.StartAsync(Path.GetFullPath(dll), options.Units);
        supervisorAddress = ownDaemon.Address;
        units = ownDaemon.Units;
        Console.WriteLine($"supervisor: {dll} (pid {ownDaemon.Pid}) on {supervisorAddress}, cgroup root {ownDaemon.CgroupRoot}, {units.Length} sleep units, {(ownDaemon.ExtraOptions.Length > 0 ? ownDaemon.ExtraOptions : "no other options")}");
    }
    bus = await PrivateBus.StartAsync(options.DBusDaemon);
    Console.WriteLine($"dbus-daemon: {Bench.FirstLine(options.DBusDaemon, "--version")} (pid {bus.Pid}) on {bus.Address}");
    Console.WriteLine($"client: Supervisor.DBus, .NET {Environment.Version}, {Environment.ProcessorCount} CPUs, " +
        $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; load average {Bench.LoadAverage()}");
    Console.WriteLine($"{options.Calls} call pairs per client per run, {options.Rounds} rounds after a warm-up round, clients {string.Join('/', options.Clients)}");
    Console.WriteLine();

    // Connections are opened once, before any timing: connect and authentication are not measured.
    int maxClients = options.Clients.Max();
    var supervisorClients = new DBusConnection[maxClients];
    var busClients = new DBusConnection[maxClients];
    for (int i = 0; i < maxClients; i++)
    {
        supervisorClients[i] = await DBusConnection.ConnectAsync(supervisorAddress);
        connections.Add(supervisorClients[i]);
        busClients[i] = await DBusConnection.ConnectAsync(bus.Address);
        connections.Add(busClients[i]);
    }

    var targets = new Target[]
    {
        new("supervisor", supervisorClients, ownDaemon?.Pid, (c, client) => Bench.SupervisorPairAsync(c, units[client % units.Length])),
        new("dbus-daemon", busClients, bus.Pid, (c, _) => Bench.DBusDaemonPairAsync(c)),
    };
    var results = new Dictionary<(string, int), List<Run>>();
    for (int round = 0; round <= options.Rounds; round++)
    {
        // Round 0 warms up, as long as a measured one: tiered JIT recompiles hot methods in the
        // background a while after their 30th call, in both the bench and the supervisor.
        bool warmUp = round == 0;
        int calls = options.Calls;
        for (int level = 0; level < options.Clients.Length; level++)
        {
            int clients = options.Clients[level];
            // Interleaved, alternating which target goes first, so drift (the machine's other load,
            // tiering, GC) falls on both.
            var order = (round + level) % 2 == 0 ? targets : targets.Reverse().ToArray();
            foreach (var target in order)
            {
                var run = await Bench.RunAsync(target, clients, calls);
                if (warmUp) continue;
                var key = (target.Name, clients);
                if (!results.TryGetValue(key, out var runs)) results[key] = runs = [];
                runs.Add(run);
                Console.WriteLine($"round {round} {clients,3} client(s) {target.Name,-11}  median {Bench.Us(run.Percentile(0.50)),7} µs  p95 {Bench.Us(run.Percentile(0.95)),7} µs  {run.CallsPerSecond,8:F0} calls/s  server CPU {run.ServerCpuPerCall,5} µs/call");
            }
        }
    }

    Console.WriteLine();
    Console.WriteLine($"Summary ({options.Rounds} rounds pooled; latency per call pair, i.e. two round trips; calls/s counts single calls; load average now {Bench.LoadAverage()})");
    Console.WriteLine();
    Console.WriteLine("| clients | target | pairs | median µs | p95 µs | calls/s | server CPU µs/call |");
    Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|");
    foreach (int clients in options.Clients)
    {
        foreach (var target in targets)
        {
            var pooled = Run.Pool(results[(target.Name, clients)]);
            Console.WriteLine($"| {clients} | {target.Name} | {pooled.Pairs} | {Bench.Us(pooled.Percentile(0.50))} | {Bench.Us(pooled.Percentile(0.95))} | {pooled.CallsPerSecond:F0} | {pooled.ServerCpuPerCall} |");
        }
    }
    Console.WriteLine();
    Console.WriteLine("| clients | median latency supervisor/dbus-daemon | p95 latency supervisor/dbus-daemon | throughput supervisor/dbus-daemon |");
    Console.WriteLine("|---:|---:|---:|---:|");
    foreach (int clients in options.Clients)
    {
        var s = Run.Pool(results[("supervisor", clients)]);
        var d = Run.Pool(results[("dbus-daemon", clients)]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {clients} | {s.Percentile(0.50) / d.Percentile(0.50):F2} | {s.Percentile(0.95) / d.Percentile(0.95):F2} | {s.CallsPerSecond / d.CallsPerSecond:F2} |"));
    }
    return 0;
}
catch (OperationCanceledException) when (Bench.Interrupted.IsCancellationRequested)
{
    Console.Error.WriteLine("bench: interrupted");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or DBusErrorException or DBusConnectionClosedException or System.Net.Sockets.SocketException or TimeoutException)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}
finally
{
    foreach (var c in connections)
    {
        await c.DisposeAsync();
    }
    if (bus != null) await bus.DisposeAsync();
    if (ownDaemon != null) await ownDaemon.DisposeAsync();
}

namespace Supervisor.DBus.Bench
{
    /// <summary>One server under test: its connections (one per client) and the call pair.</summary>
    /// <remarks><paramref name="ServerPid"/> is null for a daemon the bench did not start.</remarks>
    internal sealed record Target(string Name, DBusConnection[] Connections, int? ServerPid, Func<DBusConnection, int, Task> Pair);

    /// <summary>
    /// Pair latencies in Stopwatch ticks, the wall time they took together, and the CPU time the
    /// server process used meanwhile (null when unknown).
    /// </summary>
    internal sealed class Run(long[] latencies, double seconds, double? serverCpuSeconds)
    {
        private readonly long[] _sorted = latencies.Order().ToArray();

        public int Pairs => _sorted.Length;
        public double Seconds => seconds;
        public double? ServerCpuSeconds => serverCpuSeconds;
        public double CallsPerSecond => 2.0 * Pairs / Seconds;

        /// <summary>The server's CPU time (user + system, all threads) per single call, in µs.</summary>
        public string ServerCpuPerCall => serverCpuSeconds is double cpu
            ? (cpu * 1e6 / (2.0 * Pairs)).ToString("F1", CultureInfo.InvariantCulture) : "n/a";

        /// <summary>Nearest-rank percentile, in Stopwatch ticks.</summary>
        public double Percentile(double p) => _sorted[Math.Clamp((int)Math.Ceiling(p * _sorted.Length) - 1, 0, _sorted.Length - 1)];

        public static Run Pool(IReadOnlyList<Run> runs) => new(runs.SelectMany(r => r._sorted).ToArray(), runs.Sum(r => r.Seconds),
            runs.All(r => r.ServerCpuSeconds.HasValue) ? runs.Sum(r => r.ServerCpuSeconds!.Value) : null);
    }

    internal static class Bench
    {
        public static readonly CancellationTokenSource Interrupted = new();

        private const string SupervisorName = "io.supervisor.Supervisor1";
        private static readonly ObjectPath ManagerPath = new("/io/supervisor/Supervisor1");
        private static readonly ObjectPath BusPath = new("/org/freedesktop/DBus");

        public static async Task<string> ActiveStateAsync(DBusConnection c, string unit)
        {
            var path = (ObjectPath)(await c.CallAsync(SupervisorName, ManagerPath, "io.supervisor.Manager1", "GetUnit", "s", [unit], Interrupted.Token))[0];
            var state = (Variant)(await c.CallAsync(SupervisorName, path, "org.freedesktop.DBus.Properties", "Get", "ss", ["io.supervisor.Unit1", "ActiveState"], Interrupted.Token))[0];
            return (string)state.Value;
        }

        public static async Task SupervisorPairAsync(DBusConnection c, string unit)
        {
            var state = await ActiveStateAsync(c, unit);
            // A unit that left "active" would mean the run measured something else.
            if (state != "active") throw new InvalidOperationException($"unit '{unit}' is '{state}', expected 'active'");
        }

        public static async Task DBusDaemonPairAsync(DBusConnection c)
        {
            await c.CallAsync("org.freedesktop.DBus", BusPath, "org.freedesktop.DBus", "GetId", cancellationToken: Interrupted.Token);
            await c.CallAsync("org.freedesktop.DBus", BusPath, "org.freedesktop.DBus", "GetId", cancellationToken: Interrupted.Token);
        }

        /// <summary>
        /// <paramref name="clients"/> loops, each on its own connection making <paramref name="calls"/>
        /// pairs back to back, released together; wall time from release to the last one done.
        /// </summary>
        public static async Task<Run> RunAsync(Target target, int clients, int calls)
        {
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var latencies = new long[clients * calls];
            var loops = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
            {
                var c = target.Connections[client];
                await go.Task;
                for (int i = 0; i < calls; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    await target.Pair(c, client);
                    latencies[client * calls + i] = Stopwatch.GetTimestamp() - start;
                }
            })).ToArray();
            double? cpuBefore = CpuSeconds(target.ServerPid);
            var wall = Stopwatch.StartNew();
            go.SetResult();
            await Task.WhenAll(loops);
            wall.Stop();
            return new Run(latencies, wall.Elapsed.TotalSeconds, CpuSeconds(target.ServerPid) - cpuBefore);
        }

        /// <summary>
        /// utime + stime of a process from /proc/PID/stat: every thread's, exited ones included,
        /// in USER_HZ ticks (100 per second on every architecture .NET runs on).
        /// </summary>
        public static double? CpuSeconds(int? pid)
        {
            if (pid is not int p) return null;
            string stat = File.ReadAllText($"/proc/{p}/stat");
            // The command name (field 2) is in parentheses and may hold spaces; count from after it.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }

        public static string Us(double ticks) =>
            (ticks * 1e6 / Stopwatch.Frequency).ToString("F1", CultureInfo.InvariantCulture);

        public static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Supervisor.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException($"no Supervisor.sln above '{AppContext.BaseDirectory}'; pass --supervisor PATH");
        }

        public static string LoadAverage() =>
            string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

        public static string FirstLine(string file, string arg) => Output(file, arg).Split('\n')[0].Trim();

        /// <summary>What a short command prints on stdout.</summary>
        public static string Output(string file, params string[] args)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return output;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException($"cannot run '{file}': {e.Message}", e);
            }
        }
    }
}
