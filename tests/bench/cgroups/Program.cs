// Cost of a full accounting snapshot for many cgroups, and of applying one changed limit, measured
// beside plain `cat`/`sh` doing the same file IO in the same run. Creates its cgroups under a
// unique supervisor-bench-<random> subtree and removes them at the end, even on failure.
using System.Diagnostics;
using System.Globalization;
using Supervisor.Cgroups;

int count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
const ulong M = 1024 * 1024;

var layout = CgroupLayout.Detect();
var driver = CgroupDriver.Create(layout, "supervisor-bench-" + Guid.NewGuid().ToString("N")[..8]);
Console.WriteLine(driver.Describe());
Console.WriteLine($"{count} cgroups, {rounds} rounds, {Environment.ProcessorCount} CPUs");

var units = Enumerable.Range(0, count).Select(i => driver.Open(CgroupPath.ForUnit($"u{i:D4}"))).ToArray();
var limits = new ResourceLimits { MemoryMax = Limit.Of(64 * M), TasksMax = Limit.Of(64), CPUQuotaPercent = 50 };
try
{
    driver.PrepareRoot();
    foreach (var u in units)
    {
        u.Create(limits);
    }

    // The files one snapshot reads, for the `cat` peer.
    string[] v1Files =
    [
        "cpuacct/cpuacct.usage", "cpuacct/cpuacct.usage_user", "cpuacct/cpuacct.usage_sys", "cpu/cpu.stat",
        "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "memory/memory.usage_in_bytes", "memory/memory.max_usage_in_bytes",
        "memory/memory.stat", "memory/memory.oom_control", "memory/memory.limit_in_bytes", "pids/pids.current", "pids/pids.max",
        "blkio/blkio.throttle.io_service_bytes_recursive", "blkio/blkio.throttle.io_serviced_recursive",
    ];
    string[] v2Files =
    [
        "cpu.stat", "cpu.max", "cpu.pressure", "memory.current", "memory.peak", "memory.stat", "memory.swap.current",
        "memory.events", "memory.max", "memory.pressure", "pids.current", "pids.max", "io.stat", "io.pressure",
    ];
    var catArgs = new List<string>();
    foreach (var u in units)
    {
        if (driver.Version == 2)
        {
            catArgs.AddRange(v2Files.Select(f => Path.Combine(u.Directories[0], f)).Where(File.Exists));
        }
        else
        {
            foreach (var f in v1Files)
            {
                var hierarchy = f[..f.IndexOf('/')];
                var dir = u.Directories.First(d => d.StartsWith(layout.V1Mounts[hierarchy] + "/", StringComparison.Ordinal));
                catArgs.Add(Path.Combine(dir, f[(f.IndexOf('/') + 1)..]));
            }
        }
    }
    Console.WriteLine($"{catArgs.Count / count} files per snapshot");

    // Snapshot: our reader, all cgroups per round, versus one `cat` of the same files.
    var ours = new List<double>();
    var perCgroup = new List<double>();
    var cat = new List<double>();
    int errors = 0;
    for (int r = -1; r < rounds; r++) // round -1 warms up
    {
        var round = Stopwatch.StartNew();
        foreach (var u in units)
        {
            var t = Stopwatch.GetTimestamp();
            errors += u.GetStats().ReadErrors;
            if (r >= 0)
            {
                perCgroup.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
            }
        }
        var ms = round.Elapsed.TotalMilliseconds;
        var c = RunCat(catArgs);
        if (r >= 0)
        {
            ours.Add(ms);
            cat.Add(c);
        }
    }
    Report($"snapshot of {count} cgroups (ms per round)", ours, "cat of the same files (ms)", cat);
    Console.WriteLine($"  per cgroup: median {Pct(perCgroup, 50):F1} us, p95 {Pct(perCgroup, 95):F1} us; read errors {errors}");

    // Apply one changed limit (read, compare, write only MemoryMax) versus a shell writing the value.
    var apply = new List<double>();
    var shell = new List<double>();
    string limitFile = driver.Version == 2 ? "memory.max" : "memory.limit_in_bytes";
    for (int r = -1; r < rounds; r++)
    {
        var value = ((r + 1) % 2 == 0 ? 128UL : 64UL) * M;
        var changed = limits with { MemoryMax = Limit.Of(value) };
        int writes = 0;
        var round = Stopwatch.StartNew();
        foreach (var u in units)
        {
            writes += u.Apply(changed).Count;
        }
        var ms = round.Elapsed.TotalMilliseconds;
        if (writes != count)
        {
            throw new InvalidOperationException($"expected {count} writes, got {writes}");
        }
        var files = units.Select(u => driver.Version == 2 ? Path.Combine(u.Directories[0], limitFile)
            : Path.Combine(u.Directories.First(d => d.StartsWith(layout.V1Mounts["memory"] + "/", StringComparison.Ordinal)), limitFile));
        var s = RunShellWrites(files, value); // same value: the kernel takes it, ours alternates next round
        if (r >= 0)
        {
            apply.Add(ms);
            shell.Add(s);
        }
    }
    Report($"apply one changed limit to {count} cgroups (ms per round)", apply, "sh: echo VALUE > file for the same files (ms)", shell);
}
finally
{
    foreach (var u in units)
    {
        u.Destroy();
    }
    driver.Open(CgroupPath.Root).Destroy();
    Console.WriteLine($"removed {count} cgroups and {driver.Root}");
}

static double RunCat(List<string> files)
{
    var psi = new ProcessStartInfo("/bin/cat") { RedirectStandardOutput = true, UseShellExecute = false };
    foreach (var f in files)
    {
        psi.ArgumentList.Add(f);
    }
    var t = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    p.StandardOutput.BaseStream.CopyTo(Stream.Null);
    p.WaitForExit();
    return t.Elapsed.TotalMilliseconds;
}

static double RunShellWrites(IEnumerable<string> files, ulong value)
{
    var script = string.Join('\n', files.Select(f => $"echo {value} > {f}"));
    var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
    var t = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    p.StandardInput.Write(script);
    p.StandardInput.Close();
    p.WaitForExit();
    return t.Elapsed.TotalMilliseconds;
}

static double Pct(List<double> xs, int p)
{
    var s = xs.Order().ToArray();
    return s[Math.Min(s.Length - 1, (int)Math.Ceiling(p / 100.0 * s.Length) - 1)];
}

static void Report(string what, List<double> ours, string peerName, List<double> peer)
{
    Console.WriteLine($"{what}: median {Pct(ours, 50):F1}, p95 {Pct(ours, 95):F1}");
    Console.WriteLine($"  {peerName}: median {Pct(peer, 50):F1}, p95 {Pct(peer, 95):F1}");
    Console.WriteLine($"  ratio ours/peer: median {Pct(ours, 50) / Pct(peer, 50):F2}, p95 {Pct(ours, 95) / Pct(peer, 95):F2}");
}
