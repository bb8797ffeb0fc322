namespace Supervisor.Cgroups;

/// <summary>
/// A cgroup driver: v1 or v2, picked once at start by <see cref="CgroupDriver.Create"/>. Every write
/// stays inside the supervisor's own subtree (<see cref="Subtrees"/>).
/// </summary>
public interface ICgroupDriver
{
    CgroupLayout Layout { get; }

    /// <summary>1 or 2.</summary>
    int Version { get; }

    /// <summary>The supervisor's subtree relative to each hierarchy, e.g. "supervisor".</summary>
    string Root { get; }

    /// <summary>Absolute subtree directories, one per hierarchy used (one on v2).</summary>
    IReadOnlyList<string> Subtrees { get; }

    /// <summary>One line for the log and `status`: layout, controllers, own cgroup, subtree.</summary>
    string Describe();

    /// <summary>Declared keys the host cannot (fully) honour, with the reason. Pure: creates nothing.</summary>
    IReadOnlyList<Unhonoured> CannotHonour(ResourceLimits limits);

    /// <summary>Throws <see cref="CgroupLimitException"/> naming the key for a value the kernel would refuse.</summary>
    void Validate(ResourceLimits limits);

    /// <summary>
    /// Creates the subtree root, and on v2 enables the controllers in the parent's
    /// cgroup.subtree_control. The one deliberate write above the subtree; skip it when the subtree
    /// is delegated (systemd Delegate=yes has already done it).
    /// </summary>
    void PrepareRoot();

    /// <summary>A handle on the cgroup at <paramref name="path"/> below the root (it need not exist yet).</summary>
    ICgroup Open(CgroupPath path);
}

/// <summary>One unit's or slice's cgroup (across all v1 hierarchies, or one v2 directory).</summary>
public interface ICgroup
{
    CgroupPath Path { get; }

    /// <summary>Absolute directories, one per v1 hierarchy used, or one on v2.</summary>
    IReadOnlyList<string> Directories { get; }

    /// <summary>
    /// The cgroup.procs files a new process must write its pid to, in order, before the service
    /// runs (the exec helper does this itself).
    /// </summary>
    IReadOnlyList<string> ProcsFiles { get; }

    bool Exists();

    /// <summary>
    /// Is any process left in this cgroup or below? One small read where the kernel keeps the
    /// count (v2 cgroup.events, v1 pids.current); the procs files otherwise. False if it does not exist.
    /// </summary>
    bool IsPopulated();

    /// <summary>Validates, creates the directory (and missing parents), and applies the limits.</summary>
    IReadOnlyList<LimitChange> Create(ResourceLimits limits);

    /// <summary>
    /// Live update: reads each declared file, writes only what differs, returns what changed. Keys
    /// declared in <paramref name="previous"/> but no longer in <paramref name="limits"/> are reset to
    /// the kernel default.
    /// </summary>
    IReadOnlyList<LimitChange> Apply(ResourceLimits limits, ResourceLimits? previous = null);

    /// <summary>Declared values the files no longer hold.</summary>
    IReadOnlyList<LimitDrift> CheckDrift(ResourceLimits limits);

    /// <summary>
    /// Calls <paramref name="onWritten"/> after any write to a file holding one of
    /// <paramref name="limits"/> (by anyone, the supervisor included), until disposed: drift is
    /// seen when it happens. Nothing to watch (no limits declared) costs nothing.
    /// </summary>
    IDisposable WatchLimitWrites(ResourceLimits limits, Action onWritten);

    /// <summary>
    /// The device and network keys of <paramref name="limits"/> (DevicePolicy, DeviceAllow,
    /// IPAddressAllow/Deny, SocketBindAllow/Deny) against what the kernel enforces for this cgroup:
    /// v1 its devices.list, v2 the BPF programs attached to it. Empty when none is declared.
    /// </summary>
    IReadOnlyList<AccessState> CheckAccess(ResourceLimits limits);

    /// <summary>Writes the declared values back where they drifted (same as <see cref="Apply"/>).</summary>
    IReadOnlyList<LimitChange> Repair(ResourceLimits limits);

    /// <summary>Moves a process into this cgroup (every hierarchy).</summary>
    void Join(int pid);

    /// <summary>Processes in this cgroup and its descendants.</summary>
    IReadOnlyList<int> GetProcs();

    CgroupStats GetStats();

    /// <summary>
    /// What a scrape exports: <paramref name="usageOnly"/> skips the files that hold the unit's
    /// configuration rather than its use (memory/cpu/pids limits, the user/system cpu split, IO
    /// operation counts); those fields stay null.
    /// </summary>
    CgroupStats GetStats(bool usageOnly);

    void Freeze();

    void Thaw();

    /// <summary>Kills every process (including orphaned grandchildren) until the cgroup is empty.</summary>
    Task KillAllAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the directory (and empty descendants) in every hierarchy. Idempotent.</summary>
    void Destroy();

    /// <summary>Watches OOM kills; raise order and counts are per cgroup.</summary>
    OomKillWatcher WatchOomKills();

    /// <summary>Completes when no process is left in the cgroup.</summary>
    Task WaitForEmptyAsync(CancellationToken cancellationToken = default);
}
