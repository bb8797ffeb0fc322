using System.Collections.Immutable;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// Chooses how the helper joins each of a unit's cgroups, given the cgroup.procs files the
/// cgroup driver names. The helper only writes what the plan says.
///
/// Kernel quirk (v1): writing a pid to cgroup.procs takes the global cgroup_threadgroup_rwsem for
/// writing, and when no migration happened in the last few tens of milliseconds that waits for an
/// RCU grace period — about 10 ms per service start. Moving a single thread that names itself
/// ("0") skips that lock (kernel 6.0, "cgroup: Optimize single thread migration"). The helper is
/// single-threaded, so "0" written to the hierarchy's `tasks` file moves the whole process, exactly
/// as cgroup.procs would, in well under a millisecond. v2 has no `tasks` file and gets the pid on
/// cgroup.procs.
/// </summary>
public static class CgroupJoinPlanner
{
    private const string ProcsFile = "cgroup.procs";
    private const string TasksFile = "tasks";

    public static ImmutableArray<CgroupJoin> For(IEnumerable<string> procsFiles) => [.. procsFiles.Select(For)];

    /// <summary>
    /// On a v1 hierarchy (its directories have a `tasks` file): "0" to the `tasks` file beside
    /// <paramref name="procsFile"/>; anywhere else (v2, or a file not named cgroup.procs): the pid
    /// to the file itself.
    /// </summary>
    public static CgroupJoin For(string procsFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(procsFile);
        if (Path.GetFileName(procsFile) == ProcsFile && Path.GetDirectoryName(procsFile) is { Length: > 0 } dir && IsV1Hierarchy(dir))
            return new CgroupJoin(Path.Combine(dir, TasksFile), CgroupJoinWrite.CallingThread);
        return new CgroupJoin(procsFile, CgroupJoinWrite.ProcessId);
    }

    /// <summary>
    /// Whether DIR is (or will be, once the driver creates it) in a v1 hierarchy: its nearest
    /// existing directory has a `tasks` file. Every v1 cgroup directory has one, no v2 directory does.
    /// </summary>
    private static bool IsV1Hierarchy(string dir)
    {
        for (string? d = dir; !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
            if (Directory.Exists(d))
                return File.Exists(Path.Combine(d, TasksFile));
        return false;
    }
}
