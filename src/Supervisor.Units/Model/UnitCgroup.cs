namespace Supervisor.Units.Model;

/// <summary>
/// Where a unit's processes live in the supervisor's cgroup subtree, named as
/// Supervisor.Cgroups.CgroupPath.ForUnit names it (a test checks that both agree): a service
/// NAME gets NAME.service, or NAME itself when it has a dot already ("web.v2", "db.service"),
/// inside its slice's directories. The loader uses it to refuse two units that would share a
/// cgroup, where starting one kills the other.
/// </summary>
public static class UnitCgroup
{
    /// <summary>The unit's own cgroup directory name.</summary>
    public static string Leaf(string unit) => unit.Contains('.', StringComparison.Ordinal) ? unit : unit + ".service";

    /// <summary>"a.slice/a-b.slice/web.service" for a leaf in slice "a-b.slice" (null: the top).</summary>
    public static string RelativePath(string? slice, string leaf) =>
        slice is null ? leaf : string.Join('/', [.. SliceNames.Chain(slice), leaf]);
}
