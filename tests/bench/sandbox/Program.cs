// Sequential start latency of a tiny static program: from just before the spawn call to the
// program's first byte arriving on a pipe, measured inside this process (no .NET start-up in
// the figure). Variants are interleaved in every round so drift hits them all alike.
//
//   dotnet run -c Release --project tests/bench/sandbox [-- --runs 300]   (as root)
using System.Diagnostics;
using System.Runtime.InteropServices;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;
using Supervisor.Sandbox.Seccomp;

int runs = args.Length == 2 && args[0] == "--runs" ? int.Parse(args[1]) : 300;
if (Native.geteuid() != 0)
{
    Console.Error.WriteLine("needs root (namespaces, cgroups)");
    return 1;
}
var work = Directory.CreateTempSubdirectory("sbx-bench-").FullName;
string src = FindSourceDir();
string prog = Path.Combine(work, "firstbyte");
string cgjoin = Path.Combine(work, "cgjoin");
Gcc(Path.Combine(src, "firstbyte.c"), prog);
Gcc(Path.Combine(src, "cgjoin.c"), cgjoin);
string? bwrap = new[] { "/usr/bin/bwrap", "/bin/bwrap" }.FirstOrDefault(File.Exists);

var service = SyscallGroups.TryGet("@system-service", out var ss) ? ss : throw new InvalidOperationException();
byte[] bpf = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Allow, service.Where(SeccompCompiler.IsKnownOnThisArch).ToList(), SeccompAction.Errno(1), NativeOnly: true));
string bpfFile = Path.Combine(work, "filter.bpf");
File.WriteAllBytes(bpfFile, bpf);

string cgroup = $"/sys/fs/cgroup/memory/sbx-bench-{Environment.ProcessId}";
bool haveCgroup = Directory.Exists("/sys/fs/cgroup/memory");
if (haveCgroup)
    Directory.CreateDirectory(cgroup);
string procs = Path.Combine(cgroup, "cgroup.procs");

var full = new ExecPlan
{
    Path = prog,
    Argv = ["firstbyte"],
    Namespaces = NamespaceFlags.Pid | NamespaceFlags.Net | NamespaceFlags.Mount | NamespaceFlags.Ipc | NamespaceFlags.Uts,
    Mounts = [new ProcMount("/proc")],
    LoopbackUp = true,
    Capabilities = new CapabilitySets(0, 0, 0, 0, 0),
    NoNewPrivileges = true,
    SeccompBpf = [.. bpf],
};
string[] bwrapArgs = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--new-session",
    "--dev-bind", "/", "/", "--proc", "/proc", "--cap-drop", "ALL", "--seccomp", "10", prog];

var variants = new List<(string Name, Func<double> Run, bool Cgroup)>
{
    ("posix_spawn (no sandbox)", () => Measure.Spawn(prog, ["firstbyte"], null), false),
    ("supervisor launcher, empty plan (helper cost only)", () => Measure.Launcher(new ExecPlan { Path = prog, Argv = ["firstbyte"] }), false),
    ("supervisor launcher, full sandbox", () => Measure.Launcher(full), false),
};
if (bwrap is not null)
    variants.Add(("bwrap, full sandbox + seccomp", () => Measure.Spawn(bwrap, bwrapArgs, bpfFile), false));
if (haveCgroup)
{
    variants.Add(("supervisor launcher, full sandbox + v1 memory cgroup", () => Measure.Launcher(full with { CgroupJoins = [Supervisor.Sandbox.Compiler.CgroupJoinPlanner.For(procs)] }), true));
    if (bwrap is not null)
        variants.Add(("bwrap, full sandbox + seccomp + v1 memory cgroup", () => Measure.Spawn(cgjoin, ["cgjoin", procs, bwrap, .. bwrapArgs[1..]], bpfFile), true));
}

try
{
    // Warm-up: JIT, page cache, the helper binary.
    foreach (var v in variants)
        for (int i = 0; i < 10; i++)
            v.Run();
    var results = variants.ToDictionary(v => v.Name, _ => new List<double>());
    var rng = new Random(42);
    for (int round = 0; round < runs; round++)
    {
        foreach (var v in variants.Where(v => !v.Cgroup).OrderBy(_ => rng.Next()))
            results[v.Name].Add(v.Run());
    }
    // The v1 cgroup variants pay ~10 ms only when no migration happened in the last ~50 ms
    // (the cgroup_threadgroup_rwsem goes back to its slow path after an RCU grace period), so
    // each launch here comes after an idle 100 ms: the cold case a real start sees.
    for (int round = 0; round < runs; round++)
    {
        foreach (var v in variants.Where(v => v.Cgroup).OrderBy(_ => rng.Next()))
        {
            Thread.Sleep(100);
            results[v.Name].Add(v.Run());
        }
    }

    Console.WriteLine($"start latency, {runs} runs each, spawn → first byte of main (ms); kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {Environment.ProcessorCount} cpus");
    Console.WriteLine($"{"variant",-55} {"median",8} {"p95",8} {"min",8}");
    double? bwrapMedian = bwrap is null ? null : Median(results["bwrap, full sandbox + seccomp"]);
    double? bwrapCg = bwrap is null || !haveCgroup ? null : Median(results["bwrap, full sandbox + seccomp + v1 memory cgroup"]);
    foreach (var (name, list) in results)
    {
        var ratio = name.Contains("cgroup") ? bwrapCg : bwrapMedian;
        Console.WriteLine($"{name,-55} {Median(list),8:F3} {Percentile(list, 0.95),8:F3} {list.Min(),8:F3}" +
            (ratio is { } r ? $"   ×{Median(list) / r:F2} of bwrap" : ""));
    }
}
finally
{
    if (haveCgroup)
        Directory.Delete(cgroup);
    Directory.Delete(work, true);
}
return 0;

static double Median(List<double> l) => Percentile(l, 0.5);

static double Percentile(List<double> l, double p)
{
    var s = l.Order().ToList();
    return s[(int)Math.Min(s.Count - 1, Math.Round(p * (s.Count - 1)))];
}

static void Gcc(string source, string output)
{
    using var p = Process.Start("gcc", ["-static", "-O2", "-o", output, source])!;
    p.WaitForExit();
    if (p.ExitCode != 0)
        throw new InvalidOperationException($"gcc {source} failed");
}

static string FindSourceDir()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "firstbyte.c")))
            return d.FullName;
    throw new InvalidOperationException("cannot find firstbyte.c above " + AppContext.BaseDirectory);
}

static unsafe partial class Native
{
    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint n);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int posix_spawn(int* pid, string path, void* fa, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_init(void* fa);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_destroy(void* fa);
}

static unsafe class Measure
{
    private static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Native.pipe2(fds, 0x80000) < 0)
            throw new IOException("pipe2");
        return (fds[0], fds[1]);
    }

    private static void ReadByte(int fd)
    {
        byte b;
        if (Native.read(fd, &b, 1) != 1)
            throw new InvalidOperationException("the program did not write its byte");
    }

    /// <summary>Plain posix_spawn (optionally with a seccomp BPF file on fd 10, for bwrap --seccomp 10).</summary>
    public static double Spawn(string path, string[] argv, string? bpfFile)
    {
        var (r, w) = Pipe();
        int bpf = bpfFile is null ? -1 : Native.open(bpfFile, 0x80000);
        void* fa = NativeMemory.AllocZeroed(1024);
        var ptrs = new nint[argv.Length + 1];
        for (int i = 0; i < argv.Length; i++)
            ptrs[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
        byte* nullEnv = null;
        Native.posix_spawn_file_actions_init(fa);
        Native.posix_spawn_file_actions_adddup2(fa, w, 1);
        if (bpf >= 0)
            Native.posix_spawn_file_actions_adddup2(fa, bpf, 10);
        int pid;
        long t0 = Stopwatch.GetTimestamp();
        fixed (nint* a = ptrs)
            if (Native.posix_spawn(&pid, path, fa, null, (byte**)a, &nullEnv) != 0)
                throw new InvalidOperationException("posix_spawn " + path);
        ReadByte(r);
        long t1 = Stopwatch.GetTimestamp();
        int status;
        Native.waitpid(pid, &status, 0);
        Native.posix_spawn_file_actions_destroy(fa);
        NativeMemory.Free(fa);
        foreach (var p in ptrs)
            if (p != 0)
                Marshal.FreeCoTaskMem(p);
        Native.close(r);
        Native.close(w);
        if (bpf >= 0)
            Native.close(bpf);
        if (status != 0)
            throw new InvalidOperationException($"{path} exited with status 0x{status:x}");
        return Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
    }

    public static double Launcher(ExecPlan plan)
    {
        var (r, w) = Pipe();
        var p = plan with { Stdio = new StdioFds(-1, w, -1) };
        long t0 = Stopwatch.GetTimestamp();
        using var process = SandboxLauncher.Start(p);
        ReadByte(r);
        long t1 = Stopwatch.GetTimestamp();
        var exit = process.WaitForExit();
        Native.close(r);
        Native.close(w);
        if (exit is not { Code: 0 })
            throw new InvalidOperationException($"the sandboxed program {exit}");
        return Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
    }
}
