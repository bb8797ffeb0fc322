using System.Net.Sockets;
using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Runtime.Host;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The services' output in the holder (<see cref="HeldFds"/>): every main process's two read ends
/// are put there at spawn (keys "UNIT:out", "UNIT:err") and taken out at release; at start-up, the
/// ends a killed supervisor left are taken back for the units that are adopted and let go for the others.
/// </summary>
internal sealed class OutputKeeper(HeldFds held)
{
    private Dictionary<string, SafeFd> _recovered = new(StringComparer.Ordinal);

    /// <summary>Keeps what the holder held for <paramref name="adopted"/> units; the rest is left unclaimed (and so let go).</summary>
    public void Recover(ISet<string> adopted)
    {
        foreach (var unit in adopted)
            foreach (var key in (string[])[unit + ":out", unit + ":err"])
                if (held.Take(key) is { } fd) _recovered[key] = fd;
    }

    /// <summary>Keeps the read ends of the streams that go to the unit's log (null: that stream goes to a file, a terminal or /dev/null).</summary>
    public void Hold(string unit, SafeHandle? stdout, SafeHandle? stderr)
    {
        if (stdout is not null) held.Put(unit + ":out", stdout);
        if (stderr is not null) held.Put(unit + ":err", stderr);
    }

    public void Release(string unit)
    {
        held.Delete(unit + ":out");
        held.Delete(unit + ":err");
    }

    /// <summary>
    /// The read ends a previous supervisor left for <paramref name="slot"/>, pumped into its log again
    /// with the unit's identifier; false when there are none (neither stream went to the log, or no holder).
    /// </summary>
    public bool Recapture(UnitSlot slot, string identifier, bool levelPrefix, CancellationToken stopping)
    {
        bool any = false;
        foreach (var (suffix, stream) in new[] { (":out", " stdout"), (":err", " stderr") })
        {
            if (!_recovered.Remove(slot.Name + suffix, out var fd)) continue;
            var handle = new SafeSocketHandle(fd.DangerousGetHandle(), ownsHandle: true);
            fd.SetHandleAsInvalid();
            _ = slot.Log.PumpAsync(new Socket(handle), identifier + stream, levelPrefix, stopping);
            any = true;
        }
        return any;
    }
}
