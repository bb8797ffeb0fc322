using Supervisor.Units.Model;

namespace Supervisor.Supervision;

/// <summary>
/// The delay before restart number <c>attempt</c> (1 = the first restart after a clean run).
/// With RestartSteps, the delay grows geometrically from RestartSec to RestartMaxDelaySec over
/// that many steps, systemd's formula (PR #28266): RestartSec · (Max/RestartSec)^(i/Steps), capped.
/// RestartJitter adds up to that share of the delay, drawn at random, so that many units failing
/// together do not restart in lockstep.
/// </summary>
public static class Backoff
{
    public static TimeSpan Delay(ServiceSection service, int attempt, double jitterSample = 0)
    {
        if (attempt < 1) attempt = 1;
        double baseUs = service.RestartSec.Microseconds;
        double delayUs = baseUs;
        if (service.RestartSteps > 0 && !service.RestartMaxDelaySec.IsInfinity && baseUs > 0)
        {
            double maxUs = service.RestartMaxDelaySec.Microseconds;
            // attempt 1 waits RestartSec; the steps start with the second restart.
            int step = Math.Min(attempt - 1, service.RestartSteps);
            delayUs = Math.Min(maxUs, baseUs * Math.Pow(maxUs / baseUs, (double)step / service.RestartSteps));
        }
        else if (service.RestartSteps > 0 && !service.RestartMaxDelaySec.IsInfinity && baseUs == 0)
        {
            // From 0 a geometric series never grows; step linearly instead, as systemd does for RestartSec=0.
            double maxUs = service.RestartMaxDelaySec.Microseconds;
            delayUs = maxUs * Math.Min(attempt - 1, service.RestartSteps) / service.RestartSteps;
        }
        if (service.RestartJitter.Hundredths > 0)
            delayUs += delayUs * (service.RestartJitter.Hundredths / 10_000.0) * Math.Clamp(jitterSample, 0, 1);
        return TimeSpan.FromMicroseconds(Math.Round(delayUs));
    }

    /// <summary>
    /// Whether the backoff starts over: the unit stayed up for RestartResetSec (systemd never
    /// resets, which its users complain about; Docker resets after 10 s of uptime).
    /// </summary>
    public static bool ShouldReset(ServiceSection service, TimeSpan uptime) =>
        !service.RestartResetSec.IsInfinity && uptime >= service.RestartResetSec.ToTimeSpan();
}
