using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Supervisor.Cgroups;
using Supervisor.Linux;
using Supervisor.Metrics;
using Supervisor.Runtime.Adoption;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Process;
using Supervisor.Runtime.Metrics;
using Supervisor.Runtime.Output;
using Supervisor.Runtime.Reaping;
using Supervisor.Runtime.Reconcile;
using Supervisor.Runtime.Sockets;
using Supervisor.Runtime.Verify;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime;

/// <summary>
/// The daemon's runtime, composed: the state directory locked, the cgroup subtree prepared, the
/// manager with its host, the reconcile loop and the verifier. <see cref="Open"/> does everything
/// that can fail before any unit is touched; <see cref="StartUnitsAsync"/> adopts what a previous
/// supervisor left and starts the rest; <see cref="RunAsync"/> keeps reconciling until cancelled;
/// <see cref="StopAsync"/> stops every unit and leaves nothing behind.
/// </summary>
public sealed class SupervisorRuntime(DaemonOptions options, ILogger logger) : IDisposable
{
    private FileStream? _lock;
    private Reaper? _reaper;
    private CancellationTokenSource? _loopStop;
    private Task? _loop;
    private StateFile? _stateFile;
    private StateWriter? _stateWriter;
    private SocketActivation? _activation;
    private ConnectionActivation? _perConnection;
    private readonly FinishedInstanceLogs _instanceLogs = new(options.LogDirectory);
    // The unit set at the last change (manager thread only): who was transient among those gone.
    private IReadOnlyDictionary<string, UnitStatus> _units = new Dictionary<string, UnitStatus>();

    public ICgroupDriver Driver { get; private set; } = null!;
    /// <summary>The cgroup layout and subtree in one line, for the log and `supervisor status`.</summary>
    public string CgroupDescription { get; private set; } = "";
    public UnitManager Manager { get; private set; } = null!;
    public UnitHost Host { get; private set; } = null!;
    public DeclaredUnits Declared { get; private set; } = null!;
    public ReconcileLoop Reconciler { get; private set; } = null!;
    public IsolationVerifier Verifier { get; private set; } = null!;
    public MetricsSampler Sampler { get; private set; } = null!;

    /// <summary>Counts drift repairs and reconciles once the metrics endpoint is up (null: metrics off).</summary>
    public SupervisorMetrics? Metrics
    {
        get => Reconciler.Metrics;
        set => Reconciler.Metrics = value;
    }

    public void Open()
    {
        _lock = StateDirectoryLock.Acquire(options.StateDirectory);
        (Driver, CgroupDescription) = CgroupSetup.Prepare(options.CgroupRoot, logger);
        logger.LogInformation("cgroups: {Layout}", CgroupDescription);
        // Each running unit holds a few descriptors; the hard limit is ours to take (no privilege needed).
        logger.LogInformation("file descriptors: up to {Limit} open (RLIMIT_NOFILE)", ProcessControl.RaiseFdLimit());
        _reaper = new Reaper();
        Declared = new DeclaredUnits(options.UnitsDirectory, Driver);
        Manager = new UnitManager(TimeProvider.System, sink => Host = new UnitHost(sink, options, Driver, _reaper, logger, Declared.Lookup));
        Verifier = new IsolationVerifier(Manager, Host);
        Reconciler = new ReconcileLoop(options, Declared, Manager, Host, Verifier, logger);
        Sampler = new MetricsSampler(Manager, Driver, Host, Verifier);
        Host.ProbeRan += (unit, role, ok, seconds) => Metrics?.RecordProbe(unit, role.ToString().ToLowerInvariant(), seconds);
        Host.DriftRepaired += (unit, drift) =>
        {
            foreach (var d in drift) Metrics?.RecordDriftRepair(unit, d.Key);
        };
        _activation = new SocketActivation(Manager, Host.Sockets, logger);
        _perConnection = new ConnectionActivation(Manager, Host.Sockets, Host.Connections, Declared.Instantiate, Host.Log);
        Manager.StateChanged += Verifier.OnStateChanged;
        Manager.StateChanged += LogTransition;
        Manager.JobsDrained += CompactAfterBurst;
        Manager.UnitSetChanged += OnUnitSetChanged;
        EventLoop.Faulted += e => logger.LogError("event loop: a watch failed and was ended: {Message}", e.Message);
        _loopStop = new CancellationTokenSource();
        _loop = Manager.RunAsync(_loopStop.Token);
    }

    /// <summary>
    /// Units gone from the manager: the host forgets them, and the logs of transient instances
    /// (Accept=yes connections) are kept for the newest only.
    /// </summary>
    private void OnUnitSetChanged()
    {
        var now = Manager.Units;
        foreach (var (name, status) in _units)
            if (status.Transient && !now.ContainsKey(name)) _instanceLogs.Finished(name);
        _units = now;
        Host.ForgetAllBut(now);
    }

    private void LogTransition(UnitStatus status, UnitRuntime before) =>
        logger.LogInformation("{Unit}: {Before} → {Active} ({Sub}){Result}", status.Name, StateNames.Name(before.Sub),
            StateNames.Name(status.Active), StateNames.Name(status.Runtime.Sub),
            status.Runtime.Result == UnitResult.Success ? "" : $", result {StateNames.Name(status.Runtime.Result)}");

    /// <summary>
    /// A start (or reload) of many units leaves a heap sized for the burst; once it is over, one
    /// compacting collection hands that memory back (with 1000 units: RSS 114 → 84 MiB here).
    /// </summary>
    private static void CompactAfterBurst(int jobs)
    {
        if (jobs >= 100)
            ThreadPool.UnsafeQueueUserWorkItem(_ => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true), null);
    }

    /// <summary>Adopts the units a killed supervisor left running (their output, and the socket units' sockets, taken back from the holder), then starts the rest.</summary>
    public async Task StartUnitsAsync(CancellationToken cancellationToken)
    {
        _stateFile = new StateFile(options.StateDirectory);
        // Parsed once at start: kept in the reconciler's cache, so the "start" reconcile below takes
        // these parses and re-reads only a file edited in between (with 1000 units a parse of the
        // whole directory was a second or more of a cold start, and it ran twice).
        var declared = Declared.Read(ReadScope.Everything);
        var adoptions = AdoptionFinder.Find(_stateFile, declared, Driver, logger);
        // Dynamic uids of units that are gone and whose uid nothing runs as any more go back to the pool.
        Host.Identities.Prune(unit => declared.Units.ContainsKey(unit));
        Host.Held.Open(Path.Combine(options.RuntimeDirectory, "fdholder"));
        Host.Output.Recover(adoptions.Keys.ToHashSet(StringComparer.Ordinal));
        Host.Sockets.Recover(declared.Units.Values.Select(u => u.Definition));
        Host.FdStores.Recover(declared.Units.Values.Select(u => u.Definition));
        Host.Held.DropUnclaimed();
        await Reconciler.ReconcileAsync("start", cancellationToken, adoptions);
        _stateWriter = new StateWriter(Manager, _stateFile, logger);
    }

    /// <summary>Reconciles on file changes, SIGHUP and the timer until <paramref name="stoppingToken"/>.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var watcher = options.AutoReconcile ? Reconciler.WatchUnits(stoppingToken) : null;
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true; // SIGHUP means reload, never terminate
            _ = Reconciler.ReconcileAsync("SIGHUP", stoppingToken);
        });
        try
        {
            if (options.AutoReconcile) await Reconciler.RunTimerAsync(stoppingToken);
            else await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The cgroup statistics of a unit that has a cgroup now (null otherwise).</summary>
    public CgroupStats? StatsOf(UnitDefinition unit) => Host.CgroupOf(unit) is { } cg && cg.Exists() ? cg.GetStats() : null;

    /// <summary>Every unit stopped in reverse dependency order; the holder, the state file and the cgroup subtree emptied.</summary>
    public async Task StopAsync()
    {
        logger.LogInformation("stopping all units");
        _activation?.Stop();
        _perConnection?.Stop();
        await Manager.StopAllAsync();
        logger.LogInformation("all units stopped");
        Host.Held.Quit();
        // Nothing is running any more: a next supervisor has nothing to adopt.
        _stateWriter?.Dispose();
        _stateFile?.Write(new Dictionary<string, UnitMemory>());
        try
        {
            Driver.Open(CgroupPath.Root).Destroy();
        }
        catch (CgroupException e)
        {
            logger.LogWarning("cannot remove the cgroup subtree: {Message}", e.Message);
        }
        _loopStop?.Cancel();
        try { if (_loop is not null) await _loop; } catch (OperationCanceledException) { }
    }

    public void Dispose()
    {
        Verifier?.Dispose();
        Host?.Dispose();
        _reaper?.Dispose();
        _lock?.Dispose();
    }
}
