using Supervisor.Linux;
using System.Collections.Immutable;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Sandbox.Tests.Support;

/// <summary>The static probe program (probe/probe.c), compiled once per test run with gcc.</summary>
internal static class Probe
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Path => Built.Value;

    private static string Build()
    {
        // Under /run, not /tmp: the PrivateTmp tests hide /tmp from the service.
        var dir = System.IO.Path.Combine("/run", "sbx-probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        // Services under other uids (nobody, a user-namespace root) must be able to reach it.
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED);
        var output = System.IO.Path.Combine(dir, "probe");
        var source = System.IO.Path.Combine(Host.RepoRoot(), "tests", "Supervisor.Sandbox.Tests", "probe", "probe.c");
        Host.Run("gcc", "-static", "-O1", "-Wall", "-Werror", "-o", output, source);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, true);
        return output;
    }

    /// <summary>A plan that runs the probe with these arguments and nothing else set.</summary>
    public static ExecPlan Plan(params string[] args) => new()
    {
        Path = Path,
        Argv = ["probe", .. args],
        Environment = ["PATH=/usr/bin:/bin"],
    };
}

/// <summary>Runs a plan through the real launcher with stdout+stderr captured.</summary>
internal static class Runner
{
    public static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(60);

    public sealed record Result(ExitInfo Exit, string Output)
    {
        public string Line => Output.Trim();
        public bool Ok => Line == "ok" && Exit.Code == 0;
    }

    public static Result Run(ExecPlan plan)
    {
        var (read, write) = Supervisor.Linux.Native.Libc.Pipe();
        using var reader = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(read.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
        using (read)
        {
            SandboxProcess process;
            using (write)
                process = SandboxLauncher.Start(plan with { Stdio = new StdioFds(-1, write.Fd, write.Fd) }, "test", Host.HelperPath);
            using (process)
            {
                var text = new StreamReader(reader).ReadToEnd();
                var exit = process.WaitForExit(SafetyNet) ?? throw new TimeoutException("the probe did not exit");
                return new Result(exit, text);
            }
        }
    }

    /// <summary>A long-running probe ("sleep"), returned once it printed "ready"; kill it with Dispose.</summary>
    public sealed class Running : IDisposable
    {
        private readonly SafeFd _read;

        public Running(ExecPlan plan, string command = "sleep")
        {
            var (read, write) = Supervisor.Linux.Native.Libc.Pipe();
            _read = read;
            using (write)
                Process = SandboxLauncher.Start(plan with { Argv = ["probe", command], Stdio = new StdioFds(-1, write.Fd, write.Fd) }, "test", Host.HelperPath);
            var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(read.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
            var line = new StreamReader(stream).ReadLine();
            if (line != "ready")
            {
                Dispose();
                throw new InvalidOperationException($"the probe did not start: '{line}'");
            }
            ServicePid = Process.FindServicePid() ?? throw new InvalidOperationException("the service process is gone");
        }

        public SandboxProcess Process { get; }

        /// <summary>The probe itself (under the pid-namespace init when there is one).</summary>
        public int ServicePid { get; }

        public void Dispose()
        {
            // Only our own process, by pidfd: no pid reuse, nothing else touched.
            Process.Signal(9);
            Process.WaitForExit(SafetyNet);
            Process.Dispose();
            _read.Dispose();
        }
    }
}
