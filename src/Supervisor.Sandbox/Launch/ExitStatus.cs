namespace Supervisor.Sandbox.Launch;

/// <summary>How a process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ExitStatus(int? ExitCode, int? Signal)
{
    public bool Success => ExitCode == 0;

    /// <summary>The status a shell would report: the exit code, or 128 + the signal.</summary>
    public int ShellCode => ExitCode ?? 128 + (Signal ?? 0);

    public override string ToString() => ExitCode is { } c ? $"exited with status {c}" : $"killed by signal {Signal}";

    internal static ExitStatus FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? new ExitStatus((status >> 8) & 0xff, null) : new ExitStatus(null, status & 0x7f);
}
