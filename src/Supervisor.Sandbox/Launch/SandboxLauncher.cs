using Supervisor.Linux;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Sandbox.Launch;

/// <summary>
/// Starts a service through the native helper: posix_spawn the helper with the plan on a pipe
/// and a close-on-exec status pipe, then read the status until EOF. EOF with no error record
/// means execve succeeded. On failure every process the helper made is killed and reaped
/// before <see cref="SandboxSetupException"/> is thrown.
/// </summary>
public static class SandboxLauncher
{
    // The helper's own fds are placed high first so no dup2 in the file actions clobbers another.
    private const int FirstPrivateFd = 10;

    /// <param name="unitName">Prefix for error messages ("web: cannot …"); null for none.</param>
    /// <param name="seccompReport">Told of every call the filter reports, once answered (<see cref="DenialListener"/>); null: answered silently.</param>
    public static SandboxProcess Start(ExecPlan plan, string? unitName = null, string? helperPath = null, Action<SeccompNotification, string, ulong?>? seccompReport = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var bytes = HelperProtocol.Serialize(plan);
        helperPath ??= HelperLocator.Find();
        string prefix = unitName is null ? "" : unitName + ": ";

        var (planRead, planWrite) = Libc.Pipe();
        var (statusRead, statusWrite) = Libc.Pipe();
        bool reports = plan.InitReports && (plan.Namespaces & NamespaceFlags.Pid) != 0;
        var (reportRead, reportWrite) = reports ? Libc.Pipe() : ((SafeFd?)null, (SafeFd?)null);
        var listener = new ListenerChannel(plan);
        int helperPid;
        using (planWrite)
        using (statusRead)
        {
            using (planRead)
            using (statusWrite)
            using (var planFd = DupHigh(planRead, plan))
            using (var statusFd = DupHigh(statusWrite, plan))
            using (var listen = new ListenFdCopies(plan, DupHigh))
            using (reportWrite)
            using (var reportFd = reportWrite is null ? null : DupHigh(reportWrite, plan))
            using (var notifyFd = listener.Theirs is null ? null : DupHigh(listener.Theirs, plan))
            {
                var fds = Mappings(plan, planFd, statusFd, listen, reportFd, notifyFd);
                helperPid = PosixSpawn.Spawn(helperPath, [HelperLocator.FileName], fds, out int spawnErr);
                if (helperPid < 0)
                {
                    reportRead?.Dispose();
                    listener.Dispose();
                    throw new SandboxSetupException(SetupStep.StartHelper, spawnErr,
                        $"{prefix}cannot start the exec helper '{helperPath}': {Marshal.GetPInvokeErrorMessage(spawnErr)}");
                }
            }
            listener.HelperHasIt();
            // Our copies of the child's ends are closed now, so EOF on the status pipe means
            // every helper process has exec'd or exited.
            int writeErr = Libc.WriteAll(planWrite, bytes);
            planWrite.Dispose();
            var status = Libc.ReadToEnd(statusRead);
            try
            {
                return Finish(plan, prefix, helperPid, status, writeErr, reportRead, listener, seccompReport);
            }
            catch
            {
                reportRead?.Dispose();
                throw;
            }
            finally
            {
                listener.Dispose();
            }
        }
    }

    /// <summary>Where each descriptor goes in the helper (plan.h): stdio, plan, status, listening sockets, the init's reports, the seccomp listener's socket.</summary>
    private static List<PosixSpawn.FdMapping> Mappings(ExecPlan plan, SafeFd planFd, SafeFd statusFd, ListenFdCopies listen, SafeFd? reportFd, SafeFd? notifyFd)
    {
        var fds = new List<PosixSpawn.FdMapping>
        {
            new(plan.Stdio.In, 0, false),
            new(plan.Stdio.Out, 1, true),
            new(plan.Stdio.Err, 2, true),
            new(planFd.Fd, HelperProtocol.PlanFd, false),
            new(statusFd.Fd, HelperProtocol.StatusFd, true),
        };
        for (int i = 0; i < listen.Fds.Count; i++)
            fds.Add(new(listen.Fds[i].Fd, HelperProtocol.ListenFdsFirst + i, true));
        if (reportFd is not null)
            fds.Add(new(reportFd.Fd, HelperProtocol.InitReportFd(plan), true));
        if (notifyFd is not null)
            fds.Add(new(notifyFd.Fd, HelperProtocol.SeccompNotifyFd(plan), true));
        return fds;
    }

    /// <summary>A close-on-exec copy above every fd the file actions write (0–4, the listen fds, the init's report fd), so no dup2 clobbers a source.</summary>
    private static SafeFd DupHigh(SafeFd fd, ExecPlan plan) => DupHigh(fd.Fd, plan);

    private static SafeFd DupHigh(int fd, ExecPlan plan)
    {
        int floor = Math.Max(FirstPrivateFd, HelperProtocol.SeccompNotifyFd(plan) + 1);
        int r = Libc.Fcntl(fd, Libc.F_DUPFD_CLOEXEC, floor);
        if (r < 0)
            throw new IOException($"fcntl(F_DUPFD_CLOEXEC) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new SafeFd(r);
    }

    private readonly record struct StatusReport(int? ChildPid, (SetupStep Step, int Errno, uint Detail)? Error, List<LsmKind> SkippedLsm, int? NotifySender);

    private static SandboxProcess Finish(ExecPlan plan, string prefix, int helperPid, byte[] status, int writeErr, SafeFd? reports, ListenerChannel listener,
        Action<SeccompNotification, string, ulong?>? seccompReport)
    {
        var report = ParseStatus(status);
        // The sender has exited (EOF means every holder of the status pipe is gone): reap it, whatever happened.
        if (report.NotifySender is { } sender)
            Libc.Reap(sender);
        int? childPid = report.ChildPid;
        var error = report.Error;
        if (error is null && plan.HelperClones && childPid is null)
            error = (SetupStep.Clone, 0, 0); // the helper died before it could report its child
        if (error is null && writeErr != 0)
            error = (SetupStep.ReadPlan, writeErr, 0);
        if (error is { } e)
        {
            ReapAfterFailure(plan, helperPid, childPid);
            throw new SandboxSetupException(e.Step, e.Errno, prefix + StepMessages.Describe(plan, e.Step, e.Errno, e.Detail));
        }
        int mainPid = plan.HelperClones ? TakeOverClone(prefix, helperPid, childPid!.Value) : helperPid;
        return new SandboxProcess(mainPid, Pidfd.Open(mainPid), plan.HelperClones && (plan.Namespaces & NamespaceFlags.Pid) != 0, report.SkippedLsm, reports)
        {
            SeccompListener = listener.Receive() is { } fd ? new DenialListener(fd, plan.SeccompNotify!, seccompReport ?? ((_, _, _) => { })) : null,
        };
    }

    /// <summary>The status records: the clone's pid, the first error, the LSMs skipped.</summary>
    private static StatusReport ParseStatus(byte[] status)
    {
        int? childPid = null, sender = null;
        (SetupStep Step, int Errno, uint Detail)? error = null;
        var skipped = new List<LsmKind>();
        for (int off = 0; off + HelperProtocol.StatusRecordBytes <= status.Length; off += HelperProtocol.StatusRecordBytes)
        {
            var rec = status.AsSpan(off, HelperProtocol.StatusRecordBytes);
            uint kind = BinaryPrimitives.ReadUInt32LittleEndian(rec);
            uint step = BinaryPrimitives.ReadUInt32LittleEndian(rec[4..]);
            int err = BinaryPrimitives.ReadInt32LittleEndian(rec[8..]);
            uint detail = BinaryPrimitives.ReadUInt32LittleEndian(rec[12..]);
            switch (kind)
            {
                case HelperProtocol.StatusKindChildPid:
                    childPid = (int)detail;
                    break;
                case HelperProtocol.StatusKindNotifySender:
                    sender = (int)detail;
                    break;
                case HelperProtocol.StatusKindLsmSkipped:
                    skipped.Add((LsmKind)detail);
                    break;
                case HelperProtocol.StatusKindError:
                    error ??= ((SetupStep)step, err, detail);
                    break;
            }
        }
        return new StatusReport(childPid, error, skipped, sender);
    }

    /// <summary>
    /// No half-started process: the clone (if any) is ours since CLONE_PARENT; kill and reap it,
    /// then reap the helper, which _exits after reporting.
    /// </summary>
    private static void ReapAfterFailure(ExecPlan plan, int helperPid, int? childPid)
    {
        if (childPid is { } c)
        {
            Libc.Kill(c, Libc.SIGKILL);
            Libc.Reap(c);
        }
        if (childPid != helperPid)
        {
            if (!plan.HelperClones)
                Libc.Kill(helperPid, Libc.SIGKILL);
            Libc.Reap(helperPid);
        }
    }

    /// <summary>
    /// The helper exits right after handing the clone over; its status says whether it got that
    /// far cleanly. Returns the clone's pid, the service's main pid.
    /// </summary>
    private static int TakeOverClone(string prefix, int helperPid, int childPid)
    {
        var helperExit = ExitInfo.FromWaitStatus(Libc.Reap(helperPid));
        if (helperExit.Code != 0)
        {
            Libc.Kill(childPid, Libc.SIGKILL);
            Libc.Reap(childPid);
            throw new SandboxSetupException(SetupStep.Clone, 0, $"{prefix}the exec helper ended ({helperExit}) before handing over the service");
        }
        return childPid;
    }

    /// <summary>High copies of the plan's listening sockets, closed once the helper has its own.</summary>
    private sealed class ListenFdCopies : IDisposable
    {
        public List<SafeFd> Fds { get; } = [];

        public ListenFdCopies(ExecPlan plan, Func<int, ExecPlan, SafeFd> dupHigh)
        {
            if (plan.ListenFds.IsDefaultOrEmpty) return;
            try
            {
                foreach (var fd in plan.ListenFds) Fds.Add(dupHigh(fd, plan));
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            foreach (var fd in Fds) fd.Dispose();
        }
    }

    /// <summary>
    /// The socket the helper's sender hands the seccomp listener back on (helper/seccomp.c), for a
    /// plan whose filter reports its denials; nothing otherwise.
    /// </summary>
    private sealed class ListenerChannel : IDisposable
    {
        private SafeFd? _ours;

        public ListenerChannel(ExecPlan plan)
        {
            if (plan.SeccompNotify is null || plan.SeccompBpf.IsDefaultOrEmpty) return;
            (_ours, Theirs) = UnixSockets.SeqpacketPair();
        }

        /// <summary>The helper's end, until it has its own copy.</summary>
        public SafeFd? Theirs { get; private set; }

        public void HelperHasIt()
        {
            Theirs?.Dispose();
            Theirs = null;
        }

        /// <summary>
        /// The listener, once the sender has sent it (it has, when the status pipe reached EOF after
        /// a successful execve); null if it did not come: the service runs, and the kernel fails its
        /// denied calls with ENOSYS, unreported (the caller says so in the unit's log).
        /// </summary>
        public SafeFd? Receive()
        {
            if (_ours is null) return null;
            var fds = new List<int>(1);
            Span<byte> one = stackalloc byte[1];
            int n = UnixSockets.TryReceive(_ours, one, 1, fds, out _, out _);
            foreach (var extra in fds.Skip(1)) Libc.Close(extra);
            return n > 0 && fds.Count > 0 ? new SafeFd(fds[0]) : null;
        }

        public void Dispose()
        {
            HelperHasIt();
            _ours?.Dispose();
        }
    }
}
