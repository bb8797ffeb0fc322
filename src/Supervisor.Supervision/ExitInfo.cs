using Supervisor.Linux;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>What ended a run, as the Restart= table distinguishes causes.</summary>
public enum ExitCause
{
    /// <summary>Exit 0, a clean signal, or a SuccessExitStatus entry.</summary>
    Clean,
    /// <summary>A non-zero exit code not listed as success, or an end whose status is unknown.</summary>
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
    /// anything in SuccessExitStatus, is clean. An unknown status is never clean.
    /// </summary>
    public static bool IsClean(ExitInfo exit, ServiceSection service)
    {
        if (exit.Code is { } code)
            return code == 0 || service.SuccessExitStatus.Codes.Contains(code);
        if (exit.Signal is not { } sig) return false;
        if (service.SuccessExitStatus.Signals.Contains(sig)) return true;
        return service.Type != ServiceType.Oneshot && !exit.CoreDumped && sig is SIGHUP or SIGINT or SIGTERM or SIGPIPE;
    }

    /// <summary>
    /// The Restart= row of an exit. An unknown status that nobody asked for falls in the
    /// "unclean exit code" row: the service is gone without a stop request, which is a failure
    /// (Restart=on-failure and always bring it back), but no crash can be shown, so the settings
    /// meant only for crashes (on-abnormal, on-abort) leave it down, as they would leave a
    /// service that exited with an error code.
    /// </summary>
    public static ExitCause Classify(ExitInfo exit, ServiceSection service) =>
        IsClean(exit, service) ? ExitCause.Clean : exit.Signal is null ? ExitCause.UncleanCode : ExitCause.UncleanSignal;

    /// <summary>The Result= a run ends with; an unknown status not asked for is exit-code, like its Restart= row.</summary>
    public static UnitResult ResultOf(ExitInfo exit, ServiceSection service, bool oomKilled) =>
        oomKilled ? UnitResult.OomKill
        : IsClean(exit, service) ? UnitResult.Success
        : exit.Signal is null ? UnitResult.ExitCode
        : exit.CoreDumped ? UnitResult.CoreDump
        : UnitResult.Signal;
}
