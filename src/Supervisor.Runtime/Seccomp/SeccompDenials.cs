using System.Collections.Concurrent;
using System.Globalization;
using Supervisor.Linux;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Supervision.Logs;

namespace Supervisor.Runtime.Seccomp;

/// <summary>
/// The seccomp denials of every unit, as its listeners report them (<see cref="Sandbox.Launch.DenialListener"/>):
/// counted per (unit, system call) for the metric, `status` and D-Bus; written to the unit's log
/// once per (unit, call, answer) a minute with the caller's pid and comm, the ones in between
/// counted and named in the next line; and in learn mode, the calls outside the filter recorded
/// (<see cref="LearnedCalls"/>), each logged the first time it is seen.
/// </summary>
public sealed class SeccompDenials(string stateDirectory, TimeProvider clock)
{
    /// <summary>One log line per (unit, call, answer) in this interval.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private sealed class UnitDenials
    {
        public readonly ConcurrentDictionary<string, long> Counts = new(StringComparer.Ordinal);
        public string? Last;
    }

    private readonly ConcurrentDictionary<string, UnitDenials> _units = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LearnedCalls> _learned = new(StringComparer.Ordinal);
    private readonly LogRateLimiter _lines = new(clock, LogInterval, burst: 1);

    /// <summary>What a new process of <paramref name="unit"/> reports its filter's calls to (<see cref="Sandbox.Launch.DenialListener"/>).</summary>
    internal Action<SeccompNotification, string, ulong?>? ReportFor(string unit, UnitLog log, SeccompAnswer? answer) =>
        answer is null ? null : (n, comm, argument) => Record(unit, log, answer, n, comm, argument);

    /// <summary>Denials of <paramref name="unit"/> since this supervisor started, by system call.</summary>
    public IReadOnlyList<(string Syscall, long Count)> CountsOf(string unit) =>
        _units.TryGetValue(unit, out var u) ? [.. u.Counts.Select(kv => (kv.Key, kv.Value)).OrderBy(kv => kv.Key, StringComparer.Ordinal)] : [];

    /// <summary>The newest denial in words ("keyctl (EPERM) to pid 12 (python3) at 2026-12-03 07:00:01"); null when none.</summary>
    public string? LastOf(string unit) => _units.TryGetValue(unit, out var u) ? u.Last : null;

    /// <summary>What learn mode recorded for <paramref name="unit"/> (loaded from the state directory on first use).</summary>
    public LearnedCalls LearnedOf(string unit) => _learned.GetOrAdd(unit, u => LearnedCalls.Load(stateDirectory, u, out _));

    /// <summary>A unit that is gone: its counts go (its series disappear), what it learned stays on disk.</summary>
    public void Forget(string unit)
    {
        _units.TryRemove(unit, out _);
        _learned.TryRemove(unit, out _);
    }

    private void Record(string unit, UnitLog log, SeccompAnswer answer, SeccompNotification n, string comm, ulong? argument)
    {
        string name = n.SyscallName;
        if (answer.Kind == SeccompAnswerKind.Continue)
        {
            int? family = name == "socket" ? (int)(n.Args[0] & 0xffff_ffff) : null;
            if (LearnedOf(unit).Add(name, family, argument))
                log.Write("supervisor", $"seccomp learn: {name}{(family is { } f ? $" (address family {f})" : "")} called by pid {n.Pid} ({comm}), outside SystemCallFilter; recorded");
            return;
        }
        var u = _units.GetOrAdd(unit, _ => new UnitDenials());
        u.Counts.AddOrUpdate(name, 1, (_, c) => c + 1);
        var at = clock.GetLocalNow().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        u.Last = $"{name} ({answer}) to pid {n.Pid} ({comm}) at {at}";
        if (!_lines.TryAcquire($"{unit}\0{name}\0{answer}", out long suppressed)) return;
        var more = suppressed > 0 ? $"; denied {suppressed} more times in the minute before" : "";
        log.Write("supervisor", $"seccomp: denied system call {name} ({answer}) to pid {n.Pid} ({comm}){more}; the next denials of {name} are counted, logged again after a minute");
    }
}
