using System.Globalization;
using Supervisor.Runtime.Process;

namespace Supervisor.Runtime.Launch;

/// <summary>A start refused because the daemon is close to its own file descriptor limit; the unit fails with result `resources`.</summary>
public sealed class FdBudgetException(string message) : IOException(message);

/// <summary>
/// The daemon's file descriptors, kept from running out: every running unit holds a few (its two
/// output sockets, its log file, a pidfd, the OOM watch, a notify socket), and a daemon without
/// descriptors cannot even accept a control connection or read a unit file. Before each start the
/// budget is checked against RLIMIT_NOFILE (raised to the hard limit at start) with a reserve kept
/// for the control API, reconciles and the runtime itself; a start beyond it fails cleanly with a
/// message that names the limit. Counting /proc/self/fd costs O(open fds), so it is counted again
/// only every <see cref="SampleEvery"/> starts or when the estimate nears the limit.
/// </summary>
public sealed class FdBudget(ulong limit, int reserve = 256, int perStart = 8)
{
    private const int SampleEvery = 32;
    private readonly object _gate = new();
    private int _sampled = -1;
    private int _since;

    /// <summary>The budget for this process: its soft RLIMIT_NOFILE, which the daemon raised to the hard limit.</summary>
    public static FdBudget ForThisProcess() => new(ProcessControl.FdLimit().Soft);

    public ulong Limit => limit;

    /// <summary>Throws <see cref="FdBudgetException"/> when a start of <paramref name="unit"/> would leave less than the reserve.</summary>
    public void Reserve(string unit)
    {
        lock (_gate)
        {
            if (_sampled < 0 || ++_since >= SampleEvery) Recount();
            if (Fits(Estimate)) return;
            Recount(); // exits since the last count may have freed some
            if (Fits(Estimate)) return;
            throw new FdBudgetException(string.Create(CultureInfo.InvariantCulture,
                $"{unit}: not started: the supervisor has {_sampled} of its {limit} file descriptors open (its RLIMIT_NOFILE, already raised to the hard limit); " +
                $"a start needs about {perStart} and {reserve} are kept for the control API and reconciles. Raise the supervisor's hard limit (LimitNOFILE= in its own service unit, or ulimit -Hn) or run fewer units"));
        }
    }

    private int Estimate => _sampled + _since * perStart;

    private bool Fits(int estimate) => (ulong)(estimate + perStart + reserve) <= limit;

    private void Recount()
    {
        _sampled = CountOpen();
        _since = 0;
    }

    /// <summary>Open descriptors of this process (entries of /proc/self/fd, less the one the listing itself holds).</summary>
    public static int CountOpen() => Math.Max(0, Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() - 1);
}
