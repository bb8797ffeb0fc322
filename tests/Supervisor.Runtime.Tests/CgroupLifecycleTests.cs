using Supervisor.Cgroups;
using Supervisor.Cgroups.Tests.Fake;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Planning;
using Supervisor.Supervision.Logs;

namespace Supervisor.Runtime.Tests;

/// <summary>A unit's cgroup from its first start to its release, on a fake cgroupfs.</summary>
public sealed class CgroupLifecycleTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeCgroupFs _fs = FakeCgroupFs.HybridV1();
    private readonly RecordingLog _log = new();
    private readonly CgroupLifecycle _cgroups;
    private readonly UnitSlot _slot;

    public CgroupLifecycleTests()
    {
        _cgroups = new CgroupLifecycle(_fs.Driver(), _log.Write, CancellationToken.None);
        _slot = new UnitSlot("svc", new UnitLog(Path.Combine(_dir.Dir, "logs"), "svc", 1 << 20, 1));
        _dir.Write("units/batch.slice.toml", "[Resources]\nMemoryMax = \"256M\"\n");
    }

    private UnitPlan PlanWith(string memoryMax)
    {
        _dir.Write("units/svc.toml", $"[Service]\nExecStart = [\"/bin/sleep\", \"1\"]\nSlice = \"batch\"\n\n[Resources]\nMemoryMax = \"{memoryMax}\"\n");
        var set = Supervisor.Units.UnitLoader.LoadDirectory(Path.Combine(_dir.Dir, "units"));
        // The fake cgroupfs does not make a cgroup's files on mkdir: lay them out as the kernel would.
        _fs.AddCgroup($"{FakeCgroupFs.Root}/batch.slice/svc.service");
        return new UnitPlanner(_fs.Driver(), "/run/n").Plan(set.Units["svc"].Definition, Wait.HostContext(),
            n => set.Units.GetValueOrDefault(n)?.Definition);
    }

    private string MemoryFile(string relative) => Path.Combine(_fs.FsRoot, "memory", FakeCgroupFs.Root, relative, "memory.limit_in_bytes");

    [Fact]
    public void The_first_start_writes_the_unit_and_slice_limits()
    {
        _cgroups.Prepare(_slot, PlanWith("64M"), main: true);

        Assert.Equal((64L << 20).ToString(), File.ReadAllText(MemoryFile("batch.slice/svc.service")).Trim());
        Assert.Equal((256L << 20).ToString(), File.ReadAllText(MemoryFile("batch.slice")).Trim());
    }

    [Fact]
    public void A_restart_with_the_same_declaration_keeps_the_cgroup_and_a_changed_one_rewrites_it()
    {
        var first = _cgroups.Prepare(_slot, PlanWith("64M"), main: true);
        Assert.Same(first, _cgroups.Prepare(_slot, PlanWith("64M"), main: true));

        var changed = _cgroups.Prepare(_slot, PlanWith("96M"), main: true);

        Assert.NotSame(first, changed);
        Wait.Until(() => File.ReadAllText(MemoryFile("batch.slice/svc.service")).Trim() == (96L << 20).ToString(), "the new limit");
    }

    [Fact]
    public void A_limit_written_by_hand_is_put_back_and_counted()
    {
        var repaired = new List<string>();
        _cgroups.DriftRepaired += (unit, drift) => { lock (repaired) repaired.AddRange(drift.Select(d => $"{unit}:{d.Key}")); };
        _cgroups.Prepare(_slot, PlanWith("64M"), main: true);

        File.WriteAllText(MemoryFile("batch.slice/svc.service"), (200L << 20).ToString());

        Wait.Until(() => File.ReadAllText(MemoryFile("batch.slice/svc.service")).Trim() == (64L << 20).ToString(), "the declared limit back");
        Wait.Until(() => { lock (repaired) return repaired.Contains("svc:MemoryMax"); }, "the repair to be reported");
        Assert.Contains(_log.Lines, l => l.StartsWith("svc: drift repaired: MemoryMax", StringComparison.Ordinal));
    }

    [Fact]
    public void A_live_change_is_applied_and_is_not_drift()
    {
        _cgroups.Prepare(_slot, PlanWith("64M"), main: true);

        _cgroups.ApplyLive(_slot, PlanWith("128M"));

        Assert.Equal((128L << 20).ToString(), File.ReadAllText(MemoryFile("batch.slice/svc.service")).Trim());
        Assert.Contains(_log.Lines, l => l.Contains("applied live: MemoryMax", StringComparison.Ordinal));
        Assert.Empty(_cgroups.Repair(_slot));
        // (The fake cgroupfs shows the truncation before each write as a modification of its own, so
        // a repair to the applied value may be logged here; on cgroupfs it is not. The old value never comes back.)
        Assert.DoesNotContain(_log.Lines, l => l.Contains($"declared {64L << 20}", StringComparison.Ordinal) && l.Contains("drift repaired", StringComparison.Ordinal));
        Assert.Equal((128L << 20).ToString(), File.ReadAllText(MemoryFile("batch.slice/svc.service")).Trim());
    }

    public void Dispose()
    {
        _slot.Dispose();
        _fs.Dispose();
        _dir.Dispose();
    }
}
