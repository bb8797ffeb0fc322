using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>How a process ended: an exit code, or a signal (with or without a core dump).</summary>
public readonly record struct ExitInfo(int? Code, int? Signal, bool CoreDumped)
{
    public static ExitInfo Exited(int code) => new(code, null, false);
    public static ExitInfo Killed(int signal, bool core = false) => new(null, signal, core);

    /// <summary>The conventional shell number: the code, or 128 + signal.</summary>
    public int ShellStatus => Code ?? 128 + Signal!.Value;

    public override string ToString() => Code is { } c ? $"status={c}" : $"signal={Units.Values.Signals.Name(Signal!.Value)}{(CoreDumped ? " (core dumped)" : "")}";
}

/// <summary>What ended a run, as the Restart= table distinguishes causes.</summary>
public enum ExitCause
{
    /// <summary>Exit 0, a clean signal, or a SuccessExitStatus entry.</summary>
    Clean,
    /// <summary>A non-zero exit code not listed as success.</summary>
    UncleanCode,
    /// <summary>Killed by a signal that is not clean (including core dumps and OOM kills).</summary>
    UncleanSignal,
    /// <summary>A start, stop or reload took longer than its timeout.</summary>
    Timeout,
    /// <summary>The service missed its WatchdogSec deadline.</summary>
    Watchdog,
}

public static class ExitClassifier
{
    private const int SIGHUP = 1, SIGINT = 2, SIGTERM = 15, SIGPIPE = 13;

    /// <summary>
    /// systemd.service(5): exit 0, or SIGHUP/SIGINT/SIGTERM/SIGPIPE (not for Type=oneshot), or
    /// anything in SuccessExitStatus, is clean.
    /// </summary>
    public static bool IsClean(ExitInfo exit, ServiceSection service)
    {
        if (exit.Code is { } code)
            return code == 0 || service.SuccessExitStatus.Codes.Contains(code);
        var sig = exit.Signal!.Value;
        if (service.SuccessExitStatus.Signals.Contains(sig)) return true;
        return service.Type != ServiceType.Oneshot && !exit.CoreDumped && sig is SIGHUP or SIGINT or SIGTERM or SIGPIPE;
    }

    public static ExitCause Classify(ExitInfo exit, ServiceSection service) =>
        IsClean(exit, service) ? ExitCause.Clean : exit.Code is not null ? ExitCause.UncleanCode : ExitCause.UncleanSignal;

    /// <summary>The Result= a run ends with.</summary>
    public static UnitResult ResultOf(ExitInfo exit, ServiceSection service, bool oomKilled) =>
        oomKilled ? UnitResult.OomKill
        : IsClean(exit, service) ? UnitResult.Success
        : exit.Code is not null ? UnitResult.ExitCode
        : exit.CoreDumped ? UnitResult.CoreDump
        : UnitResult.Signal;
}
