using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Runtime.Output;
using Supervisor.Sandbox;
using Supervisor.Supervision.Logs;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Launch;

/// <summary>
/// The service's fds 0, 1 and 2 from StandardInput, StandardOutput and StandardError, opened
/// here in the supervisor, on the host and as root, before the sandbox exists, as systemd's
/// manager does: file: (O_WRONLY|O_CREAT, written from the start), append: (O_APPEND), truncate:
/// (O_TRUNC), each created 0666 minus UMask; tty modes open TTYPath with O_NOCTTY (the helper
/// makes it the controlling terminal); data is a memfd. The unit's log is a socket pair per
/// stream, pumped into its log as before. Our copies are closed once the child has its own.
/// </summary>
internal sealed class StdioSetup : IDisposable
{
    private readonly List<SafeFd> _opened = [];
    private int _connection = -1;

    private KeptOutput? _kept;

    public StdioFds Fds { get; private set; } = StdioFds.Null;
    /// <summary>Read ends of new log pipes; null where the stream does not go to the unit's log, or goes into a kept channel.</summary>
    public Socket? OutRead { get; private set; }
    public Socket? ErrRead { get; private set; }
    /// <summary>The write ends of new log pipes, closed with the setup unless taken (<see cref="TakeLogWriteEnds"/>).</summary>
    private SafeFd? _outWrite, _errWrite;

    /// <summary>SyslogIdentifier, else the main program's file name (systemd's default, the process name): the name the unit's log lines carry.</summary>
    public static string IdentifierOf(Planning.UnitPlan plan) =>
        plan.Unit.Service.SyslogIdentifier ?? Path.GetFileName(plan.Main?.Exec?.Path ?? plan.Unit.Service.ExecStart?.Program ?? plan.Unit.Name);

    /// <param name="connection">The connection of an Accept=yes socket unit's instance, for "socket"; -1: none.</param>
    /// <param name="kept">The main process's log channels from the run before (a restart): the streams that go to the log use them.</param>
    public static StdioSetup Open(string unit, ServiceSection svc, uint umask, int connection = -1, KeptOutput? kept = null)
    {
        var s = new StdioSetup { _connection = connection, _kept = kept };
        try
        {
            int input = s.OpenInput(unit, svc);
            var (outFd, outRead) = s.OpenOutput(unit, "StandardOutput", svc.EffectiveStandardOutput, svc, input, umask, err: false);
            s.OutRead = outRead;
            // systemd: inherit on stderr is stdout's fd itself (one file, one offset). The unit's log
            // keeps a pipe per stream, so its lines say which stream they came from.
            bool shared = svc.StandardError.Kind == StdOutputKind.Inherit && svc.EffectiveStandardOutput.Kind != StdOutputKind.Log;
            var (errFd, errRead) = shared ? (outFd, null)
                : s.OpenOutput(unit, svc.StandardError.Kind == StdOutputKind.Inherit ? "StandardOutput" : "StandardError", svc.EffectiveStandardError, svc, input, umask, err: true);
            s.ErrRead = errRead;
            s.Fds = new StdioFds(input, outFd, errFd);
            return s;
        }
        catch
        {
            s.Dispose();
            s.OutRead?.Dispose();
            throw;
        }
    }

    private int OpenInput(string unit, ServiceSection svc) => svc.StandardInput.Kind switch
    {
        StdInputKind.Null => -1,
        StdInputKind.File => OpenPath(unit, "StandardInput", svc.StandardInput.Path!, Libc.O_RDONLY | Libc.O_NOCTTY, 0, "reading"),
        StdInputKind.Data => Memfd(unit, svc.StandardInputBytes()),
        StdInputKind.Socket => Connection(unit, "StandardInput"),
        _ => OpenPath(unit, "TTYPath", svc.TTYPath, Libc.O_RDWR | Libc.O_NOCTTY, 0, "the service's terminal"),
    };

    private (int Fd, Socket? Read) OpenOutput(string unit, string key, StdOutputSetting setting, ServiceSection svc, int input, uint umask, bool err)
    {
        uint mode = 0x1B6 /* 0666 */ & ~umask;
        const int write = Libc.O_WRONLY | Libc.O_CREAT | Libc.O_NOCTTY;
        switch (setting.Kind)
        {
            case StdOutputKind.Log:
                if (_kept?.WriteEnd(err) is { } keptEnd) return (keptEnd.Fd, null);
                var (read, childFd) = OutputChannel.Create();
                if (err) _errWrite = new SafeFd(childFd);
                else _outWrite = new SafeFd(childFd);
                return (childFd, read);
            case StdOutputKind.Null:
                return (-1, null);
            case StdOutputKind.Socket:
                return (Connection(unit, key), null);
            case StdOutputKind.Tty:
                return (svc.StandardInput.IsTty ? input : OpenPath(unit, "TTYPath", svc.TTYPath, Libc.O_WRONLY | Libc.O_NOCTTY, 0, "the service's terminal"), null);
            case StdOutputKind.Append:
                return (OpenPath(unit, key, setting.Path!, write | Libc.O_APPEND, mode, "appending"), null);
            case StdOutputKind.Truncate:
                return (OpenPath(unit, key, setting.Path!, write | Libc.O_TRUNC, mode, "writing"), null);
            default:
                return (OpenPath(unit, key, setting.Path!, write, mode, "writing"), null);
        }
    }

    /// <summary>The connection itself (not a copy: the caller keeps it open until the unit is down).</summary>
    private int Connection(string unit, string key) => _connection >= 0 ? _connection
        : throw new PlanCompileException(unit, key, $"{unit}: {key}: \"socket\" is the connection of an Accept=yes socket unit, and this instance was not started by one " +
            "(it is started per connection, not by hand or as a dependency)");

    private int OpenPath(string unit, string key, string path, int flags, uint mode, string purpose)
    {
        int fd = Libc.Open(path, flags | Libc.O_CLOEXEC, (int)mode);
        if (fd < 0)
            throw new PlanCompileException(unit, key, $"{unit}: {key}: cannot open '{path}' for {purpose}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _opened.Add(new SafeFd(fd));
        return fd;
    }

    /// <summary>StandardInputText/Data: a sealed-size memfd at offset 0 that the service reads to its end.</summary>
    private int Memfd(string unit, byte[] data)
    {
        int fd = Libc.MemfdCreate("stdin-data", Libc.MFD_CLOEXEC);
        if (fd < 0)
            throw new PlanCompileException(unit, "StandardInputData", $"{unit}: StandardInputData: memfd_create failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var safe = new SafeFd(fd);
        _opened.Add(safe);
        int err = Libc.WriteAll(safe, data);
        if (err != 0)
            throw new PlanCompileException(unit, "StandardInputData", $"{unit}: StandardInputData: writing the memfd failed: {Marshal.GetPInvokeErrorMessage(err)}");
        Libc.Lseek(fd, 0, Libc.SEEK_SET);
        return fd;
    }

    /// <summary>The write ends of the new log pipes, now the caller's (to keep for the next run); null where none was made.</summary>
    public (SafeFd? Out, SafeFd? Err) TakeLogWriteEnds()
    {
        var taken = (_outWrite, _errWrite);
        (_outWrite, _errWrite) = (null, null);
        return taken;
    }

    /// <summary>Closes the supervisor's copies of what the child got (the child has its own, or failed).</summary>
    public void Dispose()
    {
        foreach (var fd in _opened) fd.Dispose();
        _opened.Clear();
        _outWrite?.Dispose();
        _errWrite?.Dispose();
        (_outWrite, _errWrite) = (null, null);
    }
}
