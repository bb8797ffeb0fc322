using Supervisor.Linux;
using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// systemd's Restart= table (systemd.service(5)), as data: which exit causes restart under which
/// policy. RestartPreventExitStatus is looked at first and never restarts, then
/// RestartForceExitStatus always does, then the table; a status listed in both is prevented, as
/// systemd's service_shall_restart() tests them in that order. A manual stop never restarts
/// (the caller does not ask). An unknown exit status matches neither list.
/// </summary>
public static class RestartPolicyTable
{
    //                                  Clean  UncleanCode  UncleanSignal  Timeout  Watchdog
    private static readonly Dictionary<RestartPolicy, bool[]> Table = new()
    {
        [RestartPolicy.No] =         [false, false, false, false, false],
        [RestartPolicy.Always] =     [true,  true,  true,  true,  true],
        [RestartPolicy.OnSuccess] =  [true,  false, false, false, false],
        [RestartPolicy.OnFailure] =  [false, true,  true,  true,  true],
        [RestartPolicy.OnAbnormal] = [false, false, true,  true,  true],
        [RestartPolicy.OnAbort] =    [false, false, true,  false, false],
        [RestartPolicy.OnWatchdog] = [false, false, false, false, true],
    };

    public static bool ShouldRestart(ServiceSection service, ExitCause cause, ExitInfo? exit)
    {
        if (exit is { } e)
        {
            if (Matches(service.RestartPreventExitStatus, e)) return false;
            if (Matches(service.RestartForceExitStatus, e)) return true;
        }
        return Table[service.Restart][(int)cause];
    }

    private static bool Matches(ExitStatusSet set, ExitInfo exit) =>
        exit.Code is { } c ? set.Codes.Contains(c) : exit.Signal is { } s && set.Signals.Contains(s);
}
