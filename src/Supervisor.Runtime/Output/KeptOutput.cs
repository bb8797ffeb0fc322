using Supervisor.Linux;
using Supervisor.Supervision.Logs;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The log channels of a unit's main process, kept from one run to the next while the unit
/// restarts: the write ends the next run gets as stdout/stderr, and the pumps reading the other
/// ends into the unit's log. A restart then makes no socket pair, puts nothing in the fd holder
/// (it holds the read ends already) and wakes no pump for an EOF; the two runs' lines arrive in one
/// stream, in the order they were written. Closed when the unit is down for good, or when the
/// next run's output is labelled differently (another program, SyslogIdentifier, level prefix).
/// </summary>
internal sealed class KeptOutput(string key, SafeFd? outWrite, SafeFd? errWrite, LogPump? outPump, LogPump? errPump) : IDisposable
{
    /// <summary>What the channels were made for (labels, level prefix, which streams go to the log): a run with another key gets new ones.</summary>
    public string Key { get; } = key;

    /// <summary>The write end for stdout (err false) or stderr; null when that stream does not go to the log.</summary>
    public SafeFd? WriteEnd(bool err) => err ? errWrite : outWrite;

    /// <summary>The run that wrote here has ended (its processes are gone); the next is about to start.</summary>
    public void EndOfRun()
    {
        outPump?.EndOfRun();
        errPump?.EndOfRun();
    }

    /// <summary>Our write ends close: each pump ends at EOF once no process of the unit holds its copy either.</summary>
    public void Dispose()
    {
        outWrite?.Dispose();
        errWrite?.Dispose();
    }
}
