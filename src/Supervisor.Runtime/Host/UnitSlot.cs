using Supervisor.Cgroups;
using Supervisor.Runtime.Planning;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;
using Supervisor.Supervision.Logs;
using Supervisor.Supervision.Notify;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Host;

/// <summary>
/// What the runtime holds for one unit between calls of the state machine: its log, its cgroup
/// and what was written to it, the current run's processes, the notify socket and the OOM watch.
/// Each mechanism (launcher, cgroup lifecycle, notify endpoints, adoption) reads and writes its own
/// part; nothing here decides anything.
/// </summary>
internal sealed class UnitSlot(string name, UnitLog log)
{
    public string Name { get; } = name;
    public UnitLog Log { get; } = log;

    // The cgroup and what this host wrote to it (CgroupLifecycle).
    public ICgroup? Cgroup { get; set; }
    public ResourceLimits? Applied { get; set; }
    /// <summary>The declaration <see cref="Applied"/> was mapped from (value equality, unlike the limits' maps).</summary>
    public ResourcesSection? AppliedFrom { get; set; }
    /// <summary>The slices' declarations when the cgroup was made; a change rebuilds it.</summary>
    public IReadOnlyList<ResourcesSection?>? SlicesFingerprint { get; set; }
    /// <summary>Writes to the files of <see cref="Applied"/>, by anyone: drift is repaired as it happens.</summary>
    public IDisposable? LimitWatch { get; set; }
    public OomKillWatcher? Oom { get; set; }
    public ulong OomAtStart { get; set; }

    // The current run (Launcher, Adopter).
    public SandboxProcess? Main { get; set; }
    /// <summary>Type=forking under a pid-namespace init: the init's reports of the parent's and the daemon's exits.</summary>
    public Launch.InitReports? InitReports { get; set; }
    /// <summary>A main process adopted from a previous supervisor (not our child).</summary>
    public ForeignProcess? Adopted { get; set; }
    /// <summary>Bumped at every main-process spawn; an empty-cgroup watch from an earlier run is stale.</summary>
    public long Generation;
    public long WatchingGeneration = -1;
    /// <summary>The newest plan made for the unit: a restart with the same definition reuses it.</summary>
    public UnitPlan? Plan { get; set; }
    /// <summary>The plan the current main process was started from (what verification compares with).</summary>
    public UnitPlan? MainPlan { get; set; }
    /// <summary>The ExecStart line of <see cref="MainPlan"/> the current main process runs (a oneshot runs several).</summary>
    public CommandPlan? MainCommand { get; set; }
    /// <summary>The main process's log channels, kept for its next run until the unit is released (Launcher).</summary>
    public Supervisor.Runtime.Output.KeptOutput? Output { get; set; }

    // sd_notify (NotifyEndpoints).
    public NotifySocket? Notify { get; set; }
    /// <summary>The running control command's pid (0: none), for NotifyAccess=exec.</summary>
    public int ControlPid;
    public CancellationTokenSource? NotifyStop { get; set; }

    public bool OomKilledSinceStart => Oom is { } w && w.Count > OomAtStart;

    /// <summary>After the last process: the run's process handles go; the cgroup, OOM watch and notify socket stay for a restart.</summary>
    public void EndRun()
    {
        InitReports?.Dispose();
        InitReports = null;
        Main?.Dispose();
        Main = null;
        Adopted?.Dispose();
        Adopted = null;
    }

    /// <summary>The unit is down for good: the kept log channels close (their pumps end once the last writer is gone).</summary>
    public void CloseOutput()
    {
        Output?.Dispose();
        Output = null;
    }

    public void Dispose()
    {
        CloseOutput();
        Notify?.Dispose();
        Oom?.Dispose();
        LimitWatch?.Dispose();
        Log.Dispose();
    }
}
