using Supervisor.Units.Model;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Service] keys of the stop path, the watchdog abort and sd_notify access (systemd.kill(5),
    /// systemd.service(5)). Read when next needed: the running process is left alone. Built before
    /// the other [Service] keys, so that TimeoutStartSec and TimeoutStopSec, applied after it, win
    /// over TimeoutSec wherever a unit sets both.
    /// </summary>
    private static IEnumerable<KeySpec> LifecycleKeys()
    {
        var notifyAccess = V.Enum(("none", NotifyAccess.None), ("main", NotifyAccess.Main), ("exec", NotifyAccess.Exec), ("all", NotifyAccess.All));
        return
        [
            S("TimeoutSec", NextUse, new BothTimeouts(Timeout), s => s.TimeoutStartSec == s.TimeoutStopSec ? s.TimeoutStopSec : null, (s, v) => v is { } d ? s with { TimeoutStartSec = d, TimeoutStopSec = d } : s,
                "not set", "sets TimeoutStartSec and TimeoutStopSec at once (either one, where also set, wins); 0 or \"infinity\": no limit; `show` prints it where the two are equal"),
            S("TimeoutAbortSec", NextUse, new NullableStruct<Duration>(Timeout), s => s.TimeoutAbortSec, (s, v) => s with { TimeoutAbortSec = v },
                "TimeoutStopSec", "after the watchdog fired and sent WatchdogSignal, how long the service may take to end (write a core) before FinalKillSignal; 0 or \"infinity\": no limit"),
            S("WatchdogSignal", NextUse, V.Signal, s => s.WatchdogSignal, (s, v) => s with { WatchdogSignal = v }, "\"SIGABRT\"",
                "the signal sent to the main process when WATCHDOG=1 did not arrive within WatchdogSec"),
            S("RestartKillSignal", NextUse, new NullableStruct<int>(V.Signal), s => s.RestartKillSignal, (s, v) => s with { RestartKillSignal = v }, "KillSignal",
                "the signal that stops the service for a restart (`supervisor restart`, a restart of a dependency); KillSignal for every other stop"),
            S("FinalKillSignal", NextUse, V.Signal, s => s.FinalKillSignal, (s, v) => s with { FinalKillSignal = v }, "\"SIGKILL\"",
                "the signal of the last kill step: to what remains after TimeoutStopSec (when SendSIGKILL is on), and with KillMode=mixed to what remains after the main process"),
            S("SendSIGHUP", NextUse, V.Bool, s => s.SendSIGHUP, (s, v) => s with { SendSIGHUP = v }, "false",
                "send SIGHUP right after the stop signal, to the same processes, so shells and terminals that ignore SIGTERM end too"),
            S("NotifyAccess", NextUse, new NullableStruct<NotifyAccess>(notifyAccess), s => s.NotifyAccess, (s, v) => s with { NotifyAccess = v },
                "\"none\"; \"main\" with Type=notify or WatchdogSec",
                "whose sd_notify messages are believed: nobody's (none), the main process's (main), also the control commands' (exec), or any process of the unit's cgroup (all); others are dropped with a log line"),
        ];
    }

    /// <summary>TimeoutSec: its value lives in the two it sets; read back only where they agree.</summary>
    private sealed class BothTimeouts(IValueType<Duration> inner) : IValueType<Duration?>
    {
        public string Describe => inner.Describe;
        public Duration? Parse(Syntax.TomlValue value) => inner.Parse(value);
        public object ToPlain(Duration? value) => inner.ToPlain(value!.Value);
    }
}
