using Supervisor.Cgroups.Tests.Fake;

namespace Supervisor.Cgroups.Tests;

/// <summary>Snapshot parsing from real v1 file contents (captured on this machine) and the v2 formats of the kernel docs.</summary>
public sealed class StatsTests
{
    private const string Unit = "supervisor/web.service";

    [Fact]
    public void V1_snapshot_from_captured_files()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V1("memory", Unit, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        File.WriteAllText(fake.V1("memory", Unit, "memory.limit_in_bytes"), "67108864\n");
        File.WriteAllText(fake.V1("pids", Unit, "pids.max"), "32\n");
        File.WriteAllText(fake.V1("cpu", Unit, "cpu.cfs_quota_us"), "50000\n");

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Equal(503670270UL, s.CpuUsageNs);
        Assert.Equal(484000000UL, s.CpuUserNs);
        Assert.Equal(104000000UL, s.CpuSystemNs);
        Assert.Equal(15UL, s.CpuPeriods);
        Assert.Equal(8UL, s.CpuThrottledPeriods);
        Assert.Equal(228235084UL, s.CpuThrottledNs);
        Assert.Equal(67653632UL, s.MemoryCurrentBytes);
        Assert.Equal(67907584UL, s.MemoryPeakBytes);
        Assert.Equal(67653632UL - 67108864UL, s.MemoryWorkingSetBytes);
        Assert.Equal(0UL, s.SwapCurrentBytes);
        Assert.Equal(3UL, s.OomKills);
        Assert.Equal(2UL, s.TasksCurrent);
        Assert.Equal(16777216UL, s.IoReadBytes);
        Assert.Equal(16777216UL, s.IoWriteBytes);
        Assert.Equal(16UL, s.IoReadOps);
        Assert.Equal(32UL, s.IoWriteOps);
        Assert.Null(s.CpuPressure); // no PSI on v1: null, not 0
        Assert.Null(s.MemoryPressure);
        Assert.Null(s.IoPressure);
        Assert.Equal(67108864UL, s.MemoryMaxBytes);
        Assert.Equal(50000UL, s.CpuQuotaUs);
        Assert.Equal(100000UL, s.CpuPeriodUs);
        Assert.Equal(32UL, s.TasksMax);
        Assert.Equal(0, s.ReadErrors);
    }

    [Fact]
    public void A_stat_file_larger_than_the_first_buffer_is_read_whole_though_a_scrape_reads_until_a_short_read()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        // memory.stat grows with the kernel's counters; 600 lines are ~11 KiB, past the 4 KiB
        // first buffer, so the read fills it, grows it and goes on until a read comes back short.
        var lines = Enumerable.Range(0, 600).Select(i => $"padding_counter_{i:D4} {i}").Append("total_inactive_file 4096");
        File.WriteAllText(fake.V1("memory", Unit, "memory.stat"), string.Join('\n', lines) + "\n");

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats(usageOnly: true);

        Assert.Equal(67653632UL - 4096UL, s.MemoryWorkingSetBytes);
        Assert.Equal(0, s.ReadErrors);
    }

    [Fact]
    public void V1_scrape_reads_the_usage_and_no_limit_file()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V1("memory", Unit, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        // A scrape that still opened these would count read errors.
        foreach (var (controller, file) in new[] { ("memory", "memory.limit_in_bytes"), ("pids", "pids.max"), ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.cfs_period_us"), ("cpuacct", "cpuacct.usage_user"), ("cpuacct", "cpuacct.usage_sys"), ("blkio", "blkio.throttle.io_serviced_recursive") })
            File.Delete(fake.V1(controller, Unit, file));
        var cgroup = fake.Driver().Open(CgroupPath.ForUnit("web"));

        var s = cgroup.GetStats(usageOnly: true);

        Assert.Equal(0, s.ReadErrors);
        Assert.Equal(503670270UL, s.CpuUsageNs);
        Assert.Equal(228235084UL, s.CpuThrottledNs);
        Assert.Equal(8UL, s.CpuThrottledPeriods);
        Assert.Equal(67653632UL, s.MemoryCurrentBytes);
        Assert.Equal(67907584UL, s.MemoryPeakBytes);
        Assert.Equal(3UL, s.OomKills);
        Assert.Equal(2UL, s.TasksCurrent);
        Assert.Equal(16777216UL, s.IoReadBytes);
        Assert.Null(s.MemoryMaxBytes);
        Assert.Null(s.TasksMax);
        Assert.NotEqual(0, cgroup.GetStats().ReadErrors); // the full snapshot does read them
    }

    [Fact]
    public void V1_unlimited_reads_as_null_limits_and_missing_io_lines_as_null_io()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V1("blkio", Unit, "blkio.throttle.io_service_bytes_recursive"), "Total 0\n");
        File.WriteAllText(fake.V1("blkio", Unit, "blkio.throttle.io_serviced_recursive"), "Total 0\n");

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Null(s.MemoryMaxBytes);  // 9223372036854771712
        Assert.Null(s.CpuQuotaUs);      // -1
        Assert.Null(s.TasksMax);        // max
        Assert.Null(s.IoReadBytes);
        Assert.Null(s.IoWriteOps);
    }

    [Fact]
    public void V2_snapshot_from_documented_formats()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V2(Unit, "memory.max"), "268435456\n");
        File.WriteAllText(fake.V2(Unit, "cpu.max"), "50000 100000\n");

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Equal(2_500_000_000UL, s.CpuUsageNs);
        Assert.Equal(2_000_000_000UL, s.CpuUserNs);
        Assert.Equal(500_000_000UL, s.CpuSystemNs);
        Assert.Equal(40UL, s.CpuPeriods);
        Assert.Equal(12UL, s.CpuThrottledPeriods);
        Assert.Equal(1_300_000_000UL, s.CpuThrottledNs);
        Assert.Equal(104857600UL, s.MemoryCurrentBytes);
        Assert.Equal(209715200UL, s.MemoryPeakBytes);
        Assert.Equal(104857600UL - 31457280UL, s.MemoryWorkingSetBytes);
        Assert.Equal(4096UL, s.SwapCurrentBytes);
        Assert.Equal(2UL, s.OomKills);
        Assert.Equal(3UL, s.TasksCurrent);
        Assert.Equal(1459200UL + 90430464UL, s.IoReadBytes);
        Assert.Equal(314773504UL + 299008000UL, s.IoWriteBytes);
        Assert.Equal(192UL + 8950UL, s.IoReadOps);
        Assert.Equal(353UL + 1252UL, s.IoWriteOps);
        Assert.Equal(new PressureTotals(1200, 800), s.CpuPressure);
        Assert.Equal(new PressureTotals(3400, 2100), s.MemoryPressure);
        Assert.Equal(new PressureTotals(56000, 41000), s.IoPressure);
        Assert.Equal(268435456UL, s.MemoryMaxBytes);
        Assert.Equal(50000UL, s.CpuQuotaUs);
        Assert.Equal(100000UL, s.CpuPeriodUs);
        Assert.Null(s.TasksMax);
        Assert.Equal(0, s.ReadErrors);
    }

    [Fact]
    public void Working_set_is_clamped_at_zero()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V2(Unit, "memory.current"), "1000\n");

        Assert.Equal(0UL, fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats().MemoryWorkingSetBytes);
    }

    [Fact]
    public void Keys_are_found_wherever_they_appear()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V2(Unit, "cpu.stat"), "new_key_from_a_later_kernel 5\nnr_throttled 1\nusage_usec 7\n");

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Equal(7000UL, s.CpuUsageNs);
        Assert.Equal(1UL, s.CpuThrottledPeriods);
        Assert.Null(s.CpuPeriods);
    }

    [Fact]
    public void Files_vanishing_mid_read_give_a_partial_snapshot_and_a_count()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        File.Delete(fake.V2(Unit, "memory.current"));
        File.Delete(fake.V2(Unit, "pids.current"));

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Null(s.MemoryCurrentBytes);
        Assert.Null(s.MemoryWorkingSetBytes);
        Assert.Null(s.TasksCurrent);
        Assert.Equal(2UL, s.OomKills);
        Assert.Equal(2, s.ReadErrors);
    }

    [Fact]
    public void A_removed_cgroup_gives_an_empty_snapshot_with_errors_not_an_exception()
    {
        using var fake = FakeCgroupFs.HybridV1();
        var s = fake.Driver().Open(CgroupPath.ForUnit("gone")).GetStats();

        Assert.Null(s.CpuUsageNs);
        Assert.Null(s.MemoryCurrentBytes);
        Assert.True(s.ReadErrors > 0);
    }

    [Fact]
    public void A_slice_removed_and_made_again_between_scrapes_is_read_from_the_new_directory()
    {
        using var fake = FakeCgroupFs.HybridV1();
        fake.AddCgroup("supervisor/api.slice/web.service");
        var driver = fake.Driver();
        var cg = driver.Open(CgroupPath.ForUnit("web", "api"));
        Assert.Equal(0, cg.GetStats(usageOnly: true).ReadErrors);

        foreach (var h in FakeCgroupFs.V1Hierarchies)
        {
            var slice = Path.Combine(fake.FsRoot, h, "supervisor", "api.slice");
            if (Directory.Exists(slice)) Directory.Delete(slice, recursive: true);
        }
        fake.AddCgroup("supervisor/api.slice/web.service");
        File.WriteAllText(fake.V1("memory", "supervisor/api.slice/web.service", "memory.usage_in_bytes"), "12345\n");

        var s = driver.Open(CgroupPath.ForUnit("web", "api")).GetStats(usageOnly: true);
        Assert.Equal(0, s.ReadErrors);
        Assert.Equal(12345UL, s.MemoryCurrentBytes);
    }

    [Fact]
    public void Optional_files_absent_on_older_kernels_are_null_without_errors()
    {
        using var fake = FakeCgroupFs.UnifiedV2(swap: false);
        fake.AddCgroup(Unit);
        File.Delete(fake.V2(Unit, "memory.peak"));
        foreach (var p in (string[])["cpu.pressure", "memory.pressure", "io.pressure"])
        {
            File.Delete(fake.V2(Unit, p));
        }

        var s = fake.Driver().Open(CgroupPath.ForUnit("web")).GetStats();

        Assert.Null(s.MemoryPeakBytes);
        Assert.Null(s.SwapCurrentBytes);
        Assert.Null(s.CpuPressure);
        Assert.Equal(0, s.ReadErrors);
    }
}

/// <summary>v2 events work on plain files too: inotify reports IN_MODIFY for any write.</summary>
public sealed class FakeV2EventTests
{
    private const string Unit = "supervisor/web.service";
    private static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Oom_kill_counter_rise_fires_the_event_and_the_awaiter()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        var cg = fake.Driver().Open(CgroupPath.ForUnit("web"));
        using var watcher = cg.WatchOomKills();
        Assert.Equal(2UL, watcher.Count);
        var raised = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.OomKilled += n => raised.TrySetResult(n);
        var wait = watcher.WaitForKillAsync(2, TestContext.Current.CancellationToken);

        File.WriteAllText(fake.V2(Unit, "memory.events"), "low 0\nhigh 0\nmax 9\noom 4\noom_kill 3\noom_group_kill 0\n");

        Assert.Equal(3UL, await wait.WaitAsync(SafetyNet, TestContext.Current.CancellationToken));
        Assert.Equal(3UL, await raised.Task.WaitAsync(SafetyNet, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Other_memory_events_do_not_count_as_oom_kills()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        using var watcher = fake.Driver().Open(CgroupPath.ForUnit("web")).WatchOomKills();
        var wait = watcher.WaitForKillAsync(2, TestContext.Current.CancellationToken);

        File.WriteAllText(fake.V2(Unit, "memory.events"), "low 0\nhigh 50\nmax 9\noom 3\noom_kill 2\noom_group_kill 0\n");
        await Task.Delay(200, TestContext.Current.CancellationToken);

        Assert.False(wait.IsCompleted);
        watcher.Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }

    [Fact]
    public async Task Empty_is_reported_when_populated_drops_to_zero()
    {
        using var fake = FakeCgroupFs.UnifiedV2();
        fake.AddCgroup(Unit);
        File.WriteAllText(fake.V2(Unit, "cgroup.events"), "populated 1\nfrozen 0\n");
        var wait = fake.Driver().Open(CgroupPath.ForUnit("web")).WaitForEmptyAsync(TestContext.Current.CancellationToken);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(wait.IsCompleted);

        File.WriteAllText(fake.V2(Unit, "cgroup.events"), "populated 0\nfrozen 0\n");

        await wait.WaitAsync(SafetyNet, TestContext.Current.CancellationToken);
    }
}
