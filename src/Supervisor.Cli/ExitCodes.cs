namespace Supervisor.Cli;

/// <summary>Exit codes of every `supervisor` command, documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Success; for `check`: every unit is valid (warnings allowed).</summary>
    public const int Ok = 0;
    /// <summary>The command ran and found a problem: an invalid unit, a unit not found.</summary>
    public const int Failure = 1;
    /// <summary>The command line itself is wrong.</summary>
    public const int Usage = 2;
    /// <summary>A defect in the supervisor (EX_SOFTWARE); reported in one line, never a stack trace.</summary>
    public const int Internal = 70;
}
