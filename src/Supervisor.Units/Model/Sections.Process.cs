namespace Supervisor.Units.Model;

/// <summary>CPUSchedulingPolicy= (sched(7)); the numbers are the kernel's SCHED_* values.</summary>
public enum CpuSchedulingPolicy
{
    Other = 0,
    Fifo = 1,
    RR = 2,
    Batch = 3,
    Idle = 5,
}

/// <summary>IOSchedulingClass= (ioprio_set(2)); the numbers are the kernel's IOPRIO_CLASS_* values.</summary>
public enum IoSchedulingClass
{
    None = 0,
    Realtime = 1,
    BestEffort = 2,
    Idle = 3,
}

/// <summary>Where StandardInput= connects the service's fd 0.</summary>
public enum StdInputKind
{
    Null,
    /// <summary>TTYPath, opened as the controlling terminal if no other process has it.</summary>
    Tty,
    /// <summary>TTYPath, taken over as the controlling terminal even if another process has it.</summary>
    TtyForce,
    /// <summary>TTYPath; starting fails if another process has it as its controlling terminal.</summary>
    TtyFail,
    /// <summary>A file, opened read-only.</summary>
    File,
    /// <summary>StandardInputText/StandardInputData.</summary>
    Data,
    /// <summary>The connection an Accept=yes socket unit accepted (inetd style).</summary>
    Socket,
}

/// <summary>Where StandardOutput=/StandardError= connect the service's fd 1 or 2.</summary>
public enum StdOutputKind
{
    /// <summary>stdout: what stdin is connected to (/dev/null when that is null); stderr: what stdout is.</summary>
    Inherit,
    Null,
    Tty,
    /// <summary>The unit's own log (journal, syslog, kmsg and their +console forms).</summary>
    Log,
    /// <summary>file:PATH: opened for writing, created if missing, written from the start, not truncated.</summary>
    File,
    /// <summary>append:PATH: O_APPEND.</summary>
    Append,
    /// <summary>truncate:PATH: O_TRUNC.</summary>
    Truncate,
    /// <summary>The connection an Accept=yes socket unit accepted (inetd style).</summary>
    Socket,
}

public sealed record StdInputSetting(StdInputKind Kind, string? Path = null)
{
    public static readonly StdInputSetting Null = new(StdInputKind.Null);

    public bool IsTty => Kind is StdInputKind.Tty or StdInputKind.TtyForce or StdInputKind.TtyFail;

    public override string ToString() => Kind switch
    {
        StdInputKind.Null => "null",
        StdInputKind.Tty => "tty",
        StdInputKind.TtyForce => "tty-force",
        StdInputKind.TtyFail => "tty-fail",
        StdInputKind.Data => "data",
        StdInputKind.Socket => "socket",
        _ => "file:" + Path,
    };
}

/// <param name="Spelling">The word the unit used ("journal+console", "syslog"), shown back by <c>show</c>.</param>
public sealed record StdOutputSetting(StdOutputKind Kind, string? Path = null, string? Spelling = null)
{
    /// <summary>
    /// The default. This very instance (not an equal one) means "not written in the unit", which
    /// systemd turns into inherit when stdin is a socket (service_fix_stdio); a written "journal" is a new instance.
    /// </summary>
    public static readonly StdOutputSetting Log = new(StdOutputKind.Log, null, "journal");
    public static readonly StdOutputSetting Inherit = new(StdOutputKind.Inherit, null, "inherit");

    public bool IsFile => Kind is StdOutputKind.File or StdOutputKind.Append or StdOutputKind.Truncate;

    public override string ToString() => Kind switch
    {
        StdOutputKind.File => "file:" + Path,
        StdOutputKind.Append => "append:" + Path,
        StdOutputKind.Truncate => "truncate:" + Path,
        StdOutputKind.Null => "null",
        StdOutputKind.Tty => "tty",
        StdOutputKind.Inherit => "inherit",
        StdOutputKind.Socket => "socket",
        _ => Spelling ?? "journal",
    };
}

/// <summary>[Service] keys for the process's scheduling and OOM attributes, SIGPIPE, and its standard input and output.</summary>
public sealed partial record ServiceSection
{
    /// <summary>The console, systemd's TTYPath= default.</summary>
    public const string DefaultTtyPath = "/dev/console";

    public int? Nice { get; init; }
    public CpuSchedulingPolicy? CPUSchedulingPolicy { get; init; }
    public int? CPUSchedulingPriority { get; init; }
    public bool CPUSchedulingResetOnFork { get; init; }
    public IoSchedulingClass? IOSchedulingClass { get; init; }
    public int? IOSchedulingPriority { get; init; }
    public int? OOMScoreAdjust { get; init; }
    /// <summary>systemd's default: SIGPIPE is ignored in the service.</summary>
    public bool IgnoreSIGPIPE { get; init; } = true;

    public StdInputSetting StandardInput { get; init; } = StdInputSetting.Null;
    /// <summary>StandardInputText: text given to the service on stdin (with StandardInput="data").</summary>
    public string? StandardInputText { get; init; }
    /// <summary>StandardInputData: base64 of bytes given to the service on stdin after StandardInputText.</summary>
    public string? StandardInputData { get; init; }

    /// <summary>The bytes StandardInput="data" gives: StandardInputText, then StandardInputData decoded.</summary>
    public byte[] StandardInputBytes() =>
        [.. System.Text.Encoding.UTF8.GetBytes(StandardInputText ?? ""), .. Convert.FromBase64String(StandardInputData ?? "")];
    public StdOutputSetting StandardOutput { get; init; } = StdOutputSetting.Log;
    public StdOutputSetting StandardError { get; init; } = StdOutputSetting.Inherit;
    public string? SyslogIdentifier { get; init; }
    public string SyslogFacility { get; init; } = "daemon";
    public string SyslogLevel { get; init; } = "info";
    public bool SyslogLevelPrefix { get; init; } = true;
    public string TTYPath { get; init; } = DefaultTtyPath;
    public bool TTYReset { get; init; }
    public bool TTYVHangup { get; init; }
    public bool TTYVTDisallocate { get; init; }

    /// <summary>
    /// $TERM for a service on a terminal (stdin, stdout or stderr on TTYPath, or TTYPath given), as
    /// systemd 252 sets it (exec_context_needs_term, default_term_for_tty): "linux" on the console or
    /// a virtual terminal, "vt220" on any other terminal (a serial line); null off a terminal.
    /// </summary>
    public string? TerminalType =>
        StandardInput.IsTty || EffectiveStandardOutput.Kind == StdOutputKind.Tty || EffectiveStandardError.Kind == StdOutputKind.Tty || TTYPath != DefaultTtyPath
            ? (System.Text.RegularExpressions.Regex.IsMatch(TTYPath, @"^/dev/(console|tty[0-9]+)$") ? "linux" : "vt220")
            : null;

    /// <summary>Any of the three CPU scheduling keys is set: the helper calls sched_setscheduler.</summary>
    public bool HasCpuScheduling => CPUSchedulingPolicy is not null || CPUSchedulingPriority is not null || CPUSchedulingResetOnFork;

    /// <summary>
    /// Where stdout really goes after systemd's inherit rule: inherit means stdin's terminal when
    /// stdin is one, else /dev/null (a service started by PID 1 has nothing else to inherit). With
    /// StandardInput "socket", stdout not written in the unit (or inherit) is the socket too, as
    /// systemd's service_fix_stdio leaves it: an inetd-style daemon answers on the connection.
    /// </summary>
    public StdOutputSetting EffectiveStandardOutput =>
        StandardInput.Kind == StdInputKind.Socket && (StandardOutput.Kind == StdOutputKind.Inherit || ReferenceEquals(StandardOutput, StdOutputSetting.Log))
            ? new StdOutputSetting(StdOutputKind.Socket, null, "socket")
        : StandardOutput.Kind != StdOutputKind.Inherit ? StandardOutput
        : StandardInput.IsTty ? new StdOutputSetting(StdOutputKind.Tty, null, "tty")
        : new StdOutputSetting(StdOutputKind.Null, null, "null");

    /// <summary>A connection of an Accept=yes socket unit goes on fd 0, 1 or 2 (then it is not passed as fd 3 with LISTEN_FDS, as in systemd).</summary>
    public bool UsesConnectionOnStdio =>
        StandardInput.Kind == StdInputKind.Socket || EffectiveStandardOutput.Kind == StdOutputKind.Socket || EffectiveStandardError.Kind == StdOutputKind.Socket;

    /// <summary>Where stderr really goes: inherit is stdout's destination (systemd's default for StandardError).</summary>
    public StdOutputSetting EffectiveStandardError =>
        StandardError.Kind == StdOutputKind.Inherit ? EffectiveStandardOutput : StandardError;
}
