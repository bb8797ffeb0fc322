using Supervisor.Linux;
using System.IO.Pipes;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Launch;

namespace Supervisor.Lsm.Tests.Support;

/// <summary>Starts plans through the real launcher and exec helper, as the supervisor does.</summary>
internal static class Service
{
    public static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(60);

    public sealed record Result(ExitInfo Exit, string Output);

    public static ExecPlan Plan(string path, params string[] args) => new()
    {
        Path = path,
        Argv = [Path.GetFileName(path), .. args],
        Environment = ["PATH=/usr/bin:/bin", "LANG=C"],
    };

    /// <summary>Runs the plan to its end with stdout and stderr captured together.</summary>
    public static Result Run(ExecPlan plan)
    {
        using var output = new AnonymousPipeServerStream(PipeDirection.In);
        SandboxProcess process;
        try
        {
            int write = (int)output.ClientSafePipeHandle.DangerousGetHandle();
            process = SandboxLauncher.Start(plan with { Stdio = new StdioFds(-1, write, write) }, "web");
        }
        finally
        {
            // Our copy of the write end: without closing it the read below never sees EOF.
            output.DisposeLocalCopyOfClientHandle();
        }
        using (process)
        {
            var text = new StreamReader(output).ReadToEnd();
            var exit = process.WaitForExit(SafetyNet) ?? throw new TimeoutException($"'{plan.Path}' did not exit within {SafetyNet}");
            return new Result(exit, text);
        }
    }

    /// <summary>A long-running service (sleep), killed at Dispose.</summary>
    public sealed class Running : IDisposable
    {
        public Running(ExecPlan plan)
        {
            Process = SandboxLauncher.Start(plan with { Path = "/bin/sleep", Argv = ["sleep", "600"] }, "web");
        }

        public SandboxProcess Process { get; }

        /// <summary>The launcher returns once execve succeeded: this pid already runs under its final label.</summary>
        public int Pid => Process.Pid;

        public void Dispose()
        {
            // Only our own process, by pidfd: no pid reuse, nothing else touched.
            Process.Signal(9);
            Process.WaitForExit(SafetyNet);
            Process.Dispose();
        }
    }

    /// <summary>Every process the launcher made was reaped: no child or zombie of ours is left.</summary>
    public static void AssertNoChildren()
    {
        var me = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
                continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue; // exited while we looked
            }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            Assert.False(fields[1] == me, $"process {Path.GetFileName(dir)} ({stat[..stat.LastIndexOf(')')]}) is still our child");
        }
    }
}
