using System.Globalization;
using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Sandbox.Seccomp;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// One seccomp listener: the calls one process tree's filter reported (SystemCallFilter's denied
/// set, or in learn mode everything outside it), read on the event loop and answered at once as
/// the filter would have answered (the declared errno, or the caller killed), or let through when
/// learning. Only reported calls come here; allowed calls never leave the kernel.
///
/// A flood is bounded: at most <see cref="MaxPerSecond"/> calls are answered a second; beyond
/// that the listener is taken off the loop until the second is over, and the flooding threads
/// wait in the kernel (they are blocked in a call the unit denies anyway). When every process of
/// the filter has exited the listener hangs up and is closed. The launcher starts one for every
/// process whose plan has a listener, so a denied call is answered whoever started the process
/// (the daemon, `supervisor exec`, a test); the daemon passes a report to count and log them.
/// </summary>
public sealed class DenialListener : IDisposable
{
    /// <summary>Reported calls answered per second per listener; the rest wait for the next second.</summary>
    public const int MaxPerSecond = 2000;

    private const int SIGSYS = 31;
    private readonly SafeFd _fd;
    private readonly SeccompAnswer _answer;
    private readonly Action<SeccompNotification, string, ulong?> _record;
    private readonly object _gate = new();
    private readonly HashSet<int> _killed = [];
    private Timer? _resume;
    private ulong _token;
    private long _windowStart;
    private int _inWindow;
    private bool _disposed;

    /// <param name="record">
    /// Called on the event loop for every reported call, once answered: the notification, the
    /// caller's comm ("?" when it was gone) and, when learning, the call's decisive argument
    /// (<see cref="LearnedArgument"/>; clone3's read from the caller's memory before it went on).
    /// </param>
    public DenialListener(SafeFd fd, SeccompAnswer answer, Action<SeccompNotification, string, ulong?> record)
    {
        _fd = fd;
        _answer = answer;
        _record = record;
        _windowStart = Environment.TickCount64;
        Watch();
    }

    private void Watch() => _token = EventLoop.Shared.Add(_fd, _ => Drain(), ended: Dispose);

    /// <summary>Answers what is pending, up to the second's budget; then pauses until the next second.</summary>
    private void Drain()
    {
        while (SeccompListener.HasPending(_fd))
        {
            if (!TakeBudget())
            {
                Pause();
                return;
            }
            if (SeccompListener.Receive(_fd) is { } n) Answer(n);
        }
    }

    private bool TakeBudget()
    {
        long now = Environment.TickCount64;
        if (now - _windowStart >= 1000)
            (_windowStart, _inWindow) = (now, 0);
        return ++_inWindow <= MaxPerSecond;
    }

    private void Pause()
    {
        lock (_gate)
        {
            if (_disposed) return;
            EventLoop.Shared.Remove(_token);
            long wait = Math.Max(1, 1000 - (Environment.TickCount64 - _windowStart));
            _resume ??= new Timer(_ => Resume());
            _resume.Change(wait, Timeout.Infinite);
        }
    }

    private void Resume()
    {
        lock (_gate)
        {
            if (_disposed) return;
            Watch();
        }
    }

    private void Answer(SeccompNotification n)
    {
        // The pid may be reused the moment its task stops waiting: read what names it first, then
        // check the notification is still valid, and trust the name only if it is.
        var comm = ReadComm(n.Pid);
        ulong? argument = _answer.Kind == SeccompAnswerKind.Continue ? LearnedArgumentOf(n) : null;
        bool waiting = SeccompListener.IsValid(_fd, n.Id);
        switch (_answer.Kind)
        {
            case SeccompAnswerKind.Errno:
                waiting = SeccompListener.Fail(_fd, n.Id, _answer.Errno) && waiting;
                break;
            case SeccompAnswerKind.Continue:
                waiting = SeccompListener.Continue(_fd, n.Id) && waiting;
                break;
            default:
                waiting = Kill(n) && waiting;
                break;
        }
        _record(n, waiting ? comm : "?", argument);
    }

    /// <summary>The learned call's decisive argument; clone3's struct is read while the caller still waits for the answer.</summary>
    private static ulong? LearnedArgumentOf(SeccompNotification n)
    {
        var name = n.SyscallName;
        if (!LearnedArgument.Has(name)) return null;
        Span<byte> clone3 = stackalloc byte[LearnedArgument.Clone3ArgsRead];
        int read = name == "clone3" ? ReadMemory(n.Pid, n.Args[0], clone3) : 0;
        return LearnedArgument.Of(name, n.Args, clone3[..read]);
    }

    /// <summary>Bytes of the caller's memory at <paramref name="address"/> (/proc/PID/mem); 0 when unreadable.</summary>
    private static int ReadMemory(int pid, ulong address, Span<byte> into)
    {
        try
        {
            using var mem = File.OpenHandle($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read);
            return address > long.MaxValue ? 0 : RandomAccess.Read(mem, into, (long)address);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// SECCOMP_RET_KILL_PROCESS's effect: the whole thread group dies by SIGSYS, with a core dump
    /// where the limits allow one. A process that catches, ignores or blocks SIGSYS (which the
    /// kernel's kill would not ask) gets SIGKILL instead, and so does one that survived a SIGSYS.
    /// The call is left unanswered: the caller's death ends it.
    /// </summary>
    private bool Kill(SeccompNotification n)
    {
        if (ReadStatus(n.Pid) is not { } status) return false;
        int fd = Libc.PidfdOpen(status.Tgid, 0);
        if (fd < 0) return false;
        using var pidfd = new SafeFd(fd);
        // Valid after the pidfd exists: the pidfd is the caller's process, not a pid's next owner.
        if (!SeccompListener.IsValid(_fd, n.Id)) return false;
        bool again = !_killed.Add(status.Tgid);
        int signal = again || status.SigsysHandled ? Libc.SIGKILL : SIGSYS;
        return Libc.PidfdSendSignal(pidfd.Fd, signal) == 0;
    }

    private static string ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    /// <summary>The thread's process (Tgid) and whether SIGSYS is caught, ignored or blocked there.</summary>
    private static (int Tgid, bool SigsysHandled)? ReadStatus(int tid)
    {
        try
        {
            int tgid = 0;
            bool handled = false;
            foreach (var line in File.ReadLines($"/proc/{tid}/status"))
            {
                var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
                if (parts.Length != 2) continue;
                if (parts[0] == "Tgid") tgid = int.Parse(parts[1], CultureInfo.InvariantCulture);
                else if (parts[0] is "SigBlk" or "SigIgn" or "SigCgt")
                    handled |= (ulong.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (SIGSYS - 1))) != 0;
            }
            return tgid > 0 ? (tgid, handled) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            EventLoop.Shared.Remove(_token);
            _resume?.Dispose();
        }
        _fd.Dispose();
    }
}
