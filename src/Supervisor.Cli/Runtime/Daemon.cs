using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Supervision;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Cli.Runtime;

/// <summary>
/// `supervisor run`: loads the units directory, starts what it declares, and keeps reconciling
/// (on file changes, SIGHUP, and a timer) until SIGTERM, then stops every unit in reverse
/// dependency order and exits 0.
/// </summary>
public sealed class Daemon(DaemonOptions options, ILogger<Daemon> logger, IHostApplicationLifetime lifetime) : BackgroundService
{
    private UnitManager? _manager;
    private ICgroupDriver? _driver;

    /// <summary>The cgroup layout and subtree in one line, for the log and `supervisor status`.</summary>
    public string CgroupDescription { get; private set; } = "";
    private RealHost? _host;
    private volatile IReadOnlyDictionary<string, UnitDefinition> _definitions = new Dictionary<string, UnitDefinition>();
    private readonly SemaphoreSlim _reconcileGate = new(1, 1);

    public UnitManager? Manager => _manager;

    /// <summary>Set when the daemon stopped because of an error rather than a request; `run` then exits 1.</summary>
    public string? Failure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunDaemonAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One line, never a stack trace: the message names what failed.
            Failure = e.Message;
            logger.LogCritical("supervisor stopped: {Message}", e.Message);
            lifetime.StopApplication();
        }
    }

    private async Task RunDaemonAsync(CancellationToken stoppingToken)
    {
        using var stateLock = LockStateDirectory();
        var layout = CgroupLayout.Detect();
        // Under systemd with Delegate=yes the service's own cgroup is handed to us: our units live
        // below it and nothing above it is ever written (contrib/systemd/supervisor.service).
        var delegated = layout.DelegatedSubtree();
        var root = delegated is null ? options.CgroupRoot : $"{delegated}/{options.CgroupRoot}";
        var driver = CgroupDriver.Create(layout, root);
        if (delegated is null) driver.PrepareRoot();
        else PrepareDelegated(layout, driver, delegated);
        _driver = driver;
        CgroupDescription = driver.Describe() + (delegated is null ? "" : $"; delegated by systemd: {delegated}");
        logger.LogInformation("cgroups: {Layout}", CgroupDescription);

        using var reaper = new Reaper();
        var manager = new UnitManager(TimeProvider.System, sink => _host = new RealHost(sink, options, driver, reaper, logger,
            name => _definitions.GetValueOrDefault(name)));
        _manager = manager;
        // Drift repaired the moment a limit file is written by hand counts like a reconcile's repair.
        _host!.DriftRepaired += (unit, drift) =>
        {
            foreach (var d in drift) _metrics?.RecordDriftRepair(unit, d.Key);
        };
        // Each new main process is checked against its plan as soon as it runs; the periodic sweep is only the safety net.
        manager.StateChanged += (status, before) =>
        {
            if (status.Active is ActiveState.Active && status.Runtime.MainPid is not null && (before.Active is not ActiveState.Active || before.MainPid != status.Runtime.MainPid))
                QueueSandboxCheck(status.Name);
        };
        manager.StateChanged += (status, before) =>
            logger.LogInformation("{Unit}: {Before} → {Active} ({Sub}){Result}", status.Name, StateNames.Name(before.Sub),
                StateNames.Name(status.Active), StateNames.Name(status.Runtime.Sub),
                status.Runtime.Result == UnitResult.Success ? "" : $", result {StateNames.Name(status.Runtime.Result)}");

        // A start (or reload) of many units leaves a heap sized for the burst; once it is over, one
        // compacting collection hands that memory back (with 1000 units: RSS 114 → 84 MiB here).
        manager.JobsDrained += jobs =>
        {
            if (jobs >= 100)
                ThreadPool.UnsafeQueueUserWorkItem(_ => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true), null);
        };

        using var loopStop = new CancellationTokenSource();
        var loop = manager.RunAsync(loopStop.Token);

        // Everything that can fail at start-up (the control socket in use, the metrics port in use)
        // comes before the first unit starts, so a failed start leaves nothing running.
        var adminGid = options.AdminGroup is null ? (uint?)null
            : Supervisor.Sandbox.Compiler.UserDatabase.Load().FindGroup(options.AdminGroup)
              ?? throw new InvalidOperationException($"--admin-group: no group '{options.AdminGroup}' in /etc/group");
        var api = new Control.ControlApi(manager,
            def => _host!.CgroupOf(def) is { } cg && cg.Exists() ? cg.GetStats() : null,
            () => ReconcileAsync("D-Bus Reload", stoppingToken),
            () => Task.FromResult(manager.Preview(HostResourceCheck.Apply(UnitLoader.LoadDirectory(options.UnitsDirectory), driver))),
            () => CgroupDescription,
            adminGid,
            message => logger.LogWarning("{Message}", message));
        api.Sync();
        var socketPath = Path.Combine(options.RuntimeDirectory, "private");
        await using var server = Supervisor.DBus.DBusServer.Listen(socketPath, (UnixFileMode)0b110_110_110, api.Registry,
            new Supervisor.DBus.DBusServerOptions { Names = [Control.ControlApi.BusName] });
        server.ClientDisconnected += (client, reason) =>
        {
            if (reason is not null) logger.LogWarning("control client {Client} disconnected: {Reason}", client, reason.Message);
        };
        logger.LogInformation("control API on {Address}", server.Address);
        await using var bus = await ConnectSystemBusAsync(api, stoppingToken);
        using var metricsServer = StartMetrics(manager, driver);

        var stateFile = new StateFile(options.StateDirectory);
        var adoptions = Adoptable(stateFile, driver);
        // The services' output read ends are kept by a small holder process too, so they outlive a
        // killed supervisor; those it kept for units that are not adopted are let go before they restart.
        var holder = FdHolder.Open(Path.Combine(options.RuntimeDirectory, "fdholder"), logger);
        if (holder is not null)
        {
            var recovered = holder.TakeAll();
            foreach (var key in recovered.Keys.ToList())
            {
                var unit = key[..Math.Max(0, key.LastIndexOf(':'))];
                if (adoptions.ContainsKey(unit)) continue;
                recovered.Remove(key, out var handle);
                handle!.Dispose();
                holder.Delete(key);
            }
            _host!.Holder = holder;
            _host.Recovered = recovered;
        }
        await ReconcileAsync("start", stoppingToken, adoptions);
        api.Sync();
        using var stateWriter = WriteStateOnChange(manager, stateFile);

        using var watcher = options.AutoReconcile ? WatchUnits(stoppingToken) : null;
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true; // SIGHUP means reload, never terminate
            _ = ReconcileAsync("SIGHUP", stoppingToken);
        });
        lifetime.ApplicationStarted.Register(() => logger.LogInformation("supervisor is running with units from {Dir}", options.UnitsDirectory));

        try
        {
            if (options.AutoReconcile)
            {
                using var timer = new PeriodicTimer(options.ReconcileInterval);
                while (await timer.WaitForNextTickAsync(stoppingToken))
                    await ReconcileAsync("timer", stoppingToken);
            }
            else
            {
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }
        }
        catch (OperationCanceledException) { }

        logger.LogInformation("stopping all units");
        await manager.StopAllAsync();
        logger.LogInformation("all units stopped");
        try
        {
            // Stopped cleanly: nothing is left to keep for a next supervisor.
            holder?.Quit();
        }
        catch (IOException) { }
        holder?.Dispose();
        // Nothing is running any more: a next supervisor has nothing to adopt.
        stateWriter?.Dispose();
        stateFile.Write(new Dictionary<string, UnitMemory>());
        try
        {
            // Our subtree (slices included) is empty now: leave no cgroup behind.
            driver.Open(CgroupPath.Root).Destroy();
        }
        catch (CgroupException e)
        {
            logger.LogWarning("cannot remove the cgroup subtree: {Message}", e.Message);
        }
        loopStop.Cancel();
        try { await loop; } catch (OperationCanceledException) { }
        _host?.Dispose();
    }

    private long _lastFingerprint;
    private DateTime _lastSweep = DateTime.UtcNow;

    /// <summary>Every running unit verified: limits written back where they drifted, live isolation compared with the plan.</summary>
    private void Sweep()
    {
        if (_manager is null || _host is null) return;
        foreach (var (name, status) in _manager.Units)
            if (status.Definition is { Kind: UnitKind.Service } def && status.Active is ActiveState.Active)
                foreach (var drift in _host.RepairDrift(def))
                    _metrics?.RecordDriftRepair(name, drift.Key);
        CheckSandboxes();
        _lastSweep = DateTime.UtcNow;
    }

    /// <summary>Names, sizes and times of the unit files, drop-ins, /etc/passwd and /etc/group: a stat each, no reading.</summary>
    private long UnitFilesFingerprint()
    {
        var hash = new HashCode();
        void Add(FileSystemInfo f)
        {
            hash.Add(f.FullName, StringComparer.Ordinal);
            hash.Add(f.LastWriteTimeUtc.Ticks);
            if (f is FileInfo file) hash.Add(file.Length);
        }
        try
        {
            foreach (var entry in new DirectoryInfo(options.UnitsDirectory).EnumerateFileSystemInfos())
            {
                Add(entry);
                if (entry is DirectoryInfo dropIns)
                    foreach (var dropIn in dropIns.EnumerateFileSystemInfos()) Add(dropIn);
            }
            foreach (var db in new[] { "/etc/passwd", "/etc/group" })
                if (File.Exists(db)) Add(new FileInfo(db));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DateTime.UtcNow.Ticks; // cannot tell: treat as changed
        }
        var value = hash.ToHashCode();
        return value == 0 ? 1 : value;
    }

    /// <summary>A unit declared running that is dead without having run (its start was cancelled): the reconcile starts it.</summary>
    private bool AnyUnitToRepair() =>
        _manager!.Units.Values.Any(s => s.Definition is { Kind: UnitKind.Service } && !s.BadSetting && s.Runtime.Sub == SubState.Dead
            && !s.Runtime.StopRequested && s.Runtime.LastExit is null && s.Runtime.ActiveSince is null);

    private async Task<IReadOnlyList<PlanAction>> ReconcileAsync(string reason, CancellationToken cancellationToken, IReadOnlyDictionary<string, Adoption>? adoptions = null)
    {
        if (_manager is null || _host is null) return [];
        await _reconcileGate.WaitAsync(cancellationToken);
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            // The timer is a safety net for missed inotify events: when no unit file (and no user
            // or group) changed and no unit waits to be started, it only runs the verification
            // sweep when that is due. Re-reading a thousand files every timer tick is what an idle
            // supervisor must not do.
            var fingerprint = UnitFilesFingerprint();
            if (reason == "timer" && fingerprint == _lastFingerprint && !AnyUnitToRepair())
            {
                if (DateTime.UtcNow - _lastSweep >= options.VerifyInterval && options.VerifyInterval != Timeout.InfiniteTimeSpan)
                    Sweep();
                return [];
            }
            var set = HostResourceCheck.Apply(UnitLoader.LoadDirectory(options.UnitsDirectory), _driver!);
            _lastFingerprint = fingerprint;
            foreach (var d in set.Diagnostics)
                logger.Log(d.Severity == Severity.Error ? LogLevel.Error : LogLevel.Warning, "{Diagnostic}", d.ToString());
            _definitions = set.Units.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal);
            _host.RefreshHostFacts();
            var actions = await _manager.ReconcileAsync(set, adoptions: adoptions);
            if (actions.Count > 0 || reason != "timer")
                logger.LogInformation("reconcile ({Reason}): {Count} action(s)", reason, actions.Count);
            Sweep();
            _metrics?.RecordReconcile(System.Diagnostics.Stopwatch.GetElapsedTime(started), actions.Select(a => a.Kind.ToString().ToLowerInvariant()));
            return actions;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CgroupException)
        {
            logger.LogError("reconcile ({Reason}) failed: {Message}", reason, e.Message);
            return [];
        }
        finally
        {
            _reconcileGate.Release();
        }
    }

    /// <summary>
    /// One supervisor per state directory: two would both think they own the units and the state
    /// file. The lock (flock, through FileShare.None) is released by the kernel when the process
    /// dies, so a kill -9 leaves nothing stale.
    /// </summary>
    private FileStream LockStateDirectory()
    {
        Directory.CreateDirectory(options.StateDirectory);
        var path = Path.Combine(options.StateDirectory, "supervisor.lock");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string holder = "";
            try { holder = File.ReadAllText(path).Trim(); } catch (IOException) { }
            throw new InvalidOperationException($"another supervisor{(holder.Length > 0 ? $" (pid {holder})" : "")} is using the state directory '{options.StateDirectory}'; stop it, or give this one its own --state-dir");
        }
        stream.SetLength(0);
        var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        stream.Write(pid);
        stream.Flush();
        return stream;
    }

    /// <summary>
    /// The units a previous supervisor left running: remembered in the state file, the same
    /// process (pid and start time) still alive, and still in the unit's cgroup.
    /// </summary>
    private Dictionary<string, Adoption> Adoptable(StateFile stateFile, ICgroupDriver driver)
    {
        var result = new Dictionary<string, Adoption>(StringComparer.Ordinal);
        var set = UnitLoader.LoadDirectory(options.UnitsDirectory);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var (name, memory) in stateFile.Read())
        {
            if (!set.Units.TryGetValue(name, out var parsed) || parsed.Definition.Kind != UnitKind.Service) continue;
            var def = parsed.Definition;
            var cgroup = driver.Open(CgroupPath.ForUnit(def.Name, def.Service.Slice));
            bool same = StateFile.StartTimeOf(memory.MainPid) == memory.ProcessStartTime;
            bool inCgroup = same && cgroup.Exists() && cgroup.GetProcs().Contains(memory.MainPid);
            if (same && inCgroup)
                result[name] = new Adoption(memory.MainPid, memory.Restarts, TimeSpan.FromMilliseconds(Math.Max(0, now - memory.ActiveSinceUnixMs)));
            else
                logger.LogInformation("{Unit}: the process {Pid} remembered in {State} is gone or was replaced; starting the unit afresh",
                    name, memory.MainPid, stateFile.Path);
        }
        return result;
    }

    /// <summary>The state file follows every state change (coalesced: one write per burst).</summary>
    private IDisposable WriteStateOnChange(UnitManager manager, StateFile stateFile)
    {
        var pending = 0;
        void Write()
        {
            Interlocked.Exchange(ref pending, 0);
            var now = DateTimeOffset.UtcNow;
            var units = new Dictionary<string, UnitMemory>(StringComparer.Ordinal);
            foreach (var (name, s) in manager.Units)
            {
                if (s.Runtime.MainPid is not { } pid || s.Active is not (ActiveState.Active or ActiveState.Reloading)) continue;
                if (StateFile.StartTimeOf(pid) is not { } started) continue;
                var since = s.Runtime.ActiveSince is { } ts ? (now - TimeProvider.System.GetElapsedTime(ts)).ToUnixTimeMilliseconds() : now.ToUnixTimeMilliseconds();
                units[name] = new UnitMemory(pid, started, s.Runtime.NRestarts, since);
            }
            try
            {
                stateFile.Write(units);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning("cannot write {State}: {Message}", stateFile.Path, e.Message);
            }
        }
        var timer = new Timer(_ => Write(), null, Timeout.Infinite, Timeout.Infinite);
        manager.StateChanged += (_, _) =>
        {
            if (Interlocked.Exchange(ref pending, 1) == 0) timer.Change(100, Timeout.Infinite);
        };
        Write();
        return timer;
    }

    private Supervisor.Metrics.SupervisorMetrics? _metrics;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _sandboxDrift = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (UnitDefinition Definition, Supervisor.Sandbox.ExecPlan Plan)> _plans = new(StringComparer.Ordinal);

    /// <summary>
    /// Live isolation, checked on every reconcile the way `supervisor inspect` does: each running
    /// unit's main process is read from /proc and compared with the plan its declaration compiles
    /// to. A mismatch is logged when it appears and exported as supervisor_unit_sandbox_drift.
    /// </summary>
    private void CheckSandboxes()
    {
        if (_manager is null || _driver is null) return;
        foreach (var (name, status) in _manager.Units) CheckSandbox(name, status);
        foreach (var gone in _plans.Keys.Where(k => !_manager.Units.ContainsKey(k)).ToList()) _plans.TryRemove(gone, out _);
    }

    private void Record(string name, IReadOnlyList<Supervisor.Sandbox.Inspect.InspectLine> lines)
    {
        var mismatches = lines.Where(l => l.Result == Supervisor.Sandbox.Inspect.CheckResult.Mismatch).ToList();
        bool drift = mismatches.Count > 0;
        bool before = _sandboxDrift.TryGetValue(name, out var was) && was;
        _sandboxDrift[name] = drift;
        if (drift && !before)
            _host?.Log(name, $"sandbox drift: {string.Join("; ", mismatches.Select(m => $"{m.Property} declared {m.Declared}, found {m.Found}"))}");
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _toCheck = new();
    private int _checkScheduled;
    private Timer? _checkTimer;

    /// <summary>
    /// Checks a unit that just started, in a batch two seconds later: a start of a thousand units
    /// is not slowed by their checks, which run once the burst is over.
    /// </summary>
    private void QueueSandboxCheck(string name)
    {
        _toCheck.Enqueue(name);
        if (Interlocked.Exchange(ref _checkScheduled, 1) == 1) return;
        _checkTimer ??= new Timer(_ => RunQueuedChecks(), null, Timeout.Infinite, Timeout.Infinite);
        _checkTimer.Change(2000, Timeout.Infinite);
    }

    private void RunQueuedChecks()
    {
        Interlocked.Exchange(ref _checkScheduled, 0);
        if (_manager is null) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (_toCheck.TryDequeue(out var name))
            if (seen.Add(name) && _manager.Units.TryGetValue(name, out var status)) CheckSandbox(name, status);
        // The checks of a start-up burst allocate as much as the burst did: give it back too.
        if (seen.Count >= 100) GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>One unit's live isolation against its plan (after its start, and in each sweep).</summary>
    private void CheckSandbox(string name, UnitStatus status)
    {
        if (_driver is null) return;
        if (status.Definition is not { Kind: UnitKind.Service } def || status.Active is not ActiveState.Active || status.Runtime.MainPid is not { } pid)
        {
            _sandboxDrift.TryRemove(name, out _);
            return;
        }
        try
        {
            // The plan the process was started from; compiled here only for an adopted one.
            if (_host?.MainPlanOf(def) is { } started)
            {
                _plans.TryRemove(name, out _);
                var found = Supervisor.Sandbox.Inspect.IsolationCheck.Compare(started, Supervisor.Sandbox.Inspect.IsolationState.Read(pid));
                Record(name, found);
                return;
            }
            if (!_plans.TryGetValue(name, out var cached) || cached.Definition != def)
            {
                var procs = _driver.Open(CgroupPath.ForUnit(def.Name, def.Service.Slice)).ProcsFiles;
                cached = (def, Supervisor.Sandbox.Compiler.ExecPlanCompiler.Compile(def,
                    Supervisor.Sandbox.Compiler.CompileContext.ForHost() with { CgroupProcsFiles = [.. procs] }));
                _plans[name] = cached;
            }
            Record(name, Supervisor.Sandbox.Inspect.IsolationCheck.Compare(cached.Plan, Supervisor.Sandbox.Inspect.IsolationState.Read(pid)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or Supervisor.Sandbox.PlanCompileException or InvalidOperationException)
        {
            // The process exited between the state read and now, or /proc is not readable: no verdict this time.
            _sandboxDrift.TryRemove(name, out _);
        }
    }

    /// <summary>Prometheus /metrics, read from the cgroups at scrape time (see README "Metrics").</summary>
    private IDisposable? StartMetrics(UnitManager manager, ICgroupDriver driver)
    {
        if (options.MetricsListen == "off")
        {
            logger.LogInformation("metrics are off (--metrics-listen off)");
            return null;
        }
        var colon = options.MetricsListen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(options.MetricsListen[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new InvalidOperationException($"--metrics-listen '{options.MetricsListen}': expected ADDRESS:PORT (e.g. 127.0.0.1:9558) or 'off'");
        var hostname = options.MetricsListen[..colon].Trim('[', ']');
        var registry = Prometheus.Metrics.NewCustomRegistry();
        _metrics = new Supervisor.Metrics.SupervisorMetrics(registry, () => Samples(manager, driver),
            typeof(Daemon).Assembly.GetName().Version?.ToString(3) ?? "0", driver.Layout.Mode.ToString().ToLowerInvariant());
        try
        {
            var server = new Prometheus.KestrelMetricServer(hostname, port, "/metrics", registry).Start();
            logger.LogInformation("metrics on http://{Listen}/metrics", options.MetricsListen);
            return server;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            throw new InvalidOperationException($"cannot serve metrics on {options.MetricsListen}: {inner}; choose another address with --metrics-listen ADDRESS:PORT, or --metrics-listen off");
        }
    }

    private IReadOnlyList<Supervisor.Metrics.UnitSample> Samples(UnitManager manager, ICgroupDriver driver)
    {
        var units = manager.Units.Values.ToArray();
        var samples = new Supervisor.Metrics.UnitSample[units.Length];
        var now = DateTimeOffset.UtcNow;
        // Reading cgroup files is one syscall after another: spread the units over a few threads.
        Parallel.For(0, units.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount * 2) }, i =>
        {
            var s = units[i];
            var def = s.Definition;
            CgroupStats? stats = null;
            if (def is not null)
            {
                var path = def.Kind == UnitKind.Slice ? CgroupPath.ForSlice(def.Name) : CgroupPath.ForUnit(def.Name, def.Service.Slice);
                var cg = driver.Open(path);
                // A running unit has its cgroup (no need to stat every hierarchy first); a cgroup that
                // vanishes mid-read (the unit stopping) gives a partial snapshot with ReadErrors, never an exception.
                bool running = s.Active is ActiveState.Active or ActiveState.Reloading or ActiveState.Activating or ActiveState.Deactivating
                    && s.Runtime.Sub is not SubState.AutoRestart;
                if (running || cg.Exists()) stats = cg.GetStats();
            }
            var r = def?.Resources;
            var x = def?.Sandbox;
            samples[i] = new Supervisor.Metrics.UnitSample
            {
                Unit = s.Name,
                ActiveState = StateNames.Name(s.Active),
                SubState = StateNames.Name(s.Runtime.Sub),
                Restarts = s.Runtime.NRestarts,
                StartTimeSeconds = s.Runtime.ActiveSince is { } ts ? (now - TimeProvider.System.GetElapsedTime(ts)).ToUnixTimeMilliseconds() / 1000.0 : null,
                LastExitCode = s.Runtime.LastExit?.ShellStatus,
                Stats = stats,
                MemoryLimitBytes = r?.MemoryMax is { IsInfinity: false } m ? m.Bytes : null,
                CpuQuotaCores = r?.CPUQuota is { } q ? q.Hundredths / 10000.0 : null,
                TasksLimit = r?.TasksMax is { IsInfinity: false } t ? t.Value : null,
                Namespaces = x is null ? "" : string.Join(",", Units.Keys.ValueTypes.NamespaceNames.Where(n => x.Namespaces.HasFlag(n.Flag)).Select(n => n.Name)),
                Seccomp = x is not null && (x.SystemCallFilter is not null || x.SeccompProfile is not null),
                AppArmor = x?.AppArmorProfile?.ToString() ?? "",
                SELinux = x?.SELinuxContext?.ToString() ?? "",
                NoNewPrivileges = x?.NoNewPrivileges ?? false,
                LogLinesDropped = _host?.DroppedLogLines(s.Name) ?? 0,
                SandboxDrift = _sandboxDrift.TryGetValue(s.Name, out var drift) ? drift : null,
            };
        });
        return samples;
    }

    /// <summary>The same API on the system bus, when one is reachable; its absence is not an error.</summary>
    private async Task<Supervisor.DBus.DBusConnection?> ConnectSystemBusAsync(Control.ControlApi api, CancellationToken cancellationToken)
    {
        var address = SystemBusAddress(options.SystemBus);
        if (address is null)
        {
            logger.LogInformation("no system bus{Why}; the control API is on the private socket only",
                options.SystemBus == "off" ? " (--system-bus off)" : "");
            return null;
        }
        try
        {
            var connection = await Supervisor.DBus.DBusConnection.ConnectAsync(address,
                new Supervisor.DBus.DBusConnectionOptions { Objects = api.Registry }, cancellationToken);
            var reply = await connection.RequestNameAsync(Control.ControlApi.BusName, cancellationToken: cancellationToken);
            if (reply is not (Supervisor.DBus.RequestNameReply.PrimaryOwner or Supervisor.DBus.RequestNameReply.AlreadyOwner))
            {
                logger.LogWarning("system bus {Address}: the name {Name} is owned by someone else ({Reply}); serving on the private socket only",
                    address, Control.ControlApi.BusName, reply);
                await connection.DisposeAsync();
                return null;
            }
            logger.LogInformation("control API on the system bus {Address} as {Name}", address, Control.ControlApi.BusName);
            return connection;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or Supervisor.DBus.DBusErrorException
            or Supervisor.DBus.DBusConnectionClosedException or Supervisor.DBus.DBusProtocolException or UnauthorizedAccessException)
        {
            logger.LogWarning("system bus {Address} not usable ({Message}); serving on the private socket only", address, e.Message);
            return null;
        }
    }

    public static string? SystemBusAddress(string option)
    {
        if (option == "off") return null;
        if (option != "auto") return option;
        if (Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") is { Length: > 0 } env) return env;
        return File.Exists("/run/dbus/system_bus_socket") ? "unix:path=/run/dbus/system_bus_socket" : null;
    }

    /// <summary>
    /// cgroup v2 forbids processes in a cgroup whose children have controllers enabled ("no
    /// internal processes"), so under delegation the daemon first moves itself into a leaf of its
    /// own (supervisor.scope) beside the units' subtree, then enables the controllers for it.
    /// </summary>
    private void PrepareDelegated(CgroupLayout layout, ICgroupDriver driver, string delegated)
    {
        if (!layout.IsV2)
        {
            driver.PrepareRoot();
            return;
        }
        var top = Path.Combine(layout.FsRoot, delegated);
        var self = Path.Combine(top, "supervisor.scope");
        Directory.CreateDirectory(self);
        File.WriteAllText(Path.Combine(self, "cgroup.procs"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var available = File.ReadAllText(Path.Combine(top, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        File.WriteAllText(Path.Combine(top, "cgroup.subtree_control"), string.Join(' ', available.Select(c => "+" + c)));
        driver.PrepareRoot();
        logger.LogInformation("running under systemd: moved into {Self}; units below {Top}/{Root}", self, top, options.CgroupRoot);
    }

    /// <summary>inotify on the units directory, debounced: an editor's save is several events.</summary>
    private FileSystemWatcher WatchUnits(CancellationToken cancellationToken)
    {
        var watcher = new FileSystemWatcher(options.UnitsDirectory) { IncludeSubdirectories = true };
        Timer? debounce = null;
        void Changed(object? _, FileSystemEventArgs e)
        {
            debounce?.Dispose();
            debounce = new Timer(_ => _ = ReconcileAsync($"change of {e.Name}", cancellationToken), null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
        }
        watcher.Changed += Changed;
        watcher.Created += Changed;
        watcher.Deleted += Changed;
        watcher.Renamed += (s, e) => Changed(s, e);
        // The kernel's event queue overflowed: changes may have been missed, so look at everything.
        watcher.Error += (_, e) => _ = ReconcileAsync($"missed file events ({e.GetException().Message})", cancellationToken);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }
}
