using Supervisor.Cgroups.Tests.Fake;
using Supervisor.Runtime.Adoption;

namespace Supervisor.Runtime.Tests;

/// <summary>What a supervisor restarted after kill -9 adopts: the state file, checked against the process table and the cgroups.</summary>
public sealed class AdoptionTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeCgroupFs _fs = FakeCgroupFs.HybridV1();

    private static int Self => Environment.ProcessId;

    private Dictionary<string, Supervision.Adoption> Find(string? startTime = null, bool inCgroup = true)
    {
        _dir.Write("units/svc.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"1\"]\n");
        _fs.AddCgroup($"{FakeCgroupFs.Root}/svc.service");
        foreach (var h in FakeCgroupFs.V1Hierarchies)
            File.WriteAllText(Path.Combine(_fs.FsRoot, h, FakeCgroupFs.Root, "svc.service", "cgroup.procs"), inCgroup ? $"{Self}\n" : "");
        var state = new StateFile(Path.Combine(_dir.Dir, "state"));
        state.Write(new Dictionary<string, UnitMemory> { ["svc"] = new(Self, startTime ?? StateFile.StartTimeOf(Self)!, 3, 0) });
        var units = Supervisor.Units.UnitLoader.LoadDirectory(Path.Combine(_dir.Dir, "units"));
        return AdoptionFinder.Find(state, units, _fs.Driver(), Wait.NullLogger);
    }

    [Fact]
    public void The_same_process_still_in_its_cgroup_is_adopted_with_its_restart_count()
    {
        var adopted = Assert.Single(Find());
        Assert.Equal("svc", adopted.Key);
        Assert.Equal(Self, adopted.Value.MainPid);
        Assert.Equal(3, adopted.Value.Restarts);
    }

    [Fact]
    public void A_reused_pid_is_not_adopted()
    {
        Assert.Empty(Find(startTime: "1"));
    }

    [Fact]
    public void A_process_that_left_the_unit_cgroup_is_not_adopted()
    {
        Assert.Empty(Find(inCgroup: false));
    }

    [Fact]
    public void The_state_file_round_trips_and_a_damaged_one_adopts_nothing()
    {
        var state = new StateFile(Path.Combine(_dir.Dir, "state"));
        state.Write(new Dictionary<string, UnitMemory> { ["a"] = new(42, "12345", 1, 99) });
        Assert.Equal(new UnitMemory(42, "12345", 1, 99), state.Read()["a"]);

        string? cause = null;
        Assert.Single(state.Read(c => cause = c));
        Assert.Null(cause); // a readable file is not damaged

        File.WriteAllText(state.Path, "{\"units\": {\"a\": {\"mainPid\": ");
        Assert.Empty(state.Read(c => cause = c));
        Assert.NotNull(cause);
    }

    [Fact]
    public void A_missing_state_file_is_not_damage()
    {
        string? cause = null;
        Assert.Empty(new StateFile(Path.Combine(_dir.Dir, "nothing-here")).Read(c => cause = c));
        Assert.Null(cause);
    }

    [Fact]
    public void The_state_directory_is_made_private_and_locked_against_a_second_supervisor()
    {
        var dir = Path.Combine(_dir.Dir, "state-dir");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);

        using (StateDirectoryLock.Acquire(dir))
        {
            Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(dir));
            var second = Assert.Throws<InvalidOperationException>(() => StateDirectoryLock.Acquire(dir));
            Assert.Contains($"(pid {Environment.ProcessId})", second.Message, StringComparison.Ordinal);
        }
        StateDirectoryLock.Acquire(dir).Dispose();
    }

    public void Dispose()
    {
        _fs.Dispose();
        _dir.Dispose();
    }
}
