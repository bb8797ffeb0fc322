using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Supervisor.Runtime.Host;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The runtime's use of the output holder (<see cref="FdHolder"/>): every main process's two read
/// ends are put there at spawn and taken out at release; at start-up, the ends a killed supervisor
/// left are taken back for the units that are adopted and let go for the others.
/// </summary>
internal sealed class OutputKeeper(ILogger logger)
{
    private FdHolder? _holder;
    private Dictionary<string, SafeSocketHandle> _recovered = new(StringComparer.Ordinal);
    private int _failed;

    /// <summary>Connects to (or starts) the holder at <paramref name="path"/> and keeps what it holds for <paramref name="adopted"/> units.</summary>
    public void Open(string path, ISet<string> adopted)
    {
        _holder = FdHolder.Open(path, logger);
        if (_holder is null) return;
        var recovered = _holder.TakeAll();
        foreach (var key in recovered.Keys.ToList())
        {
            if (adopted.Contains(UnitOf(key))) continue;
            recovered.Remove(key, out var handle);
            handle!.Dispose();
            _holder.Delete(key);
        }
        _recovered = recovered;
    }

    private static string UnitOf(string key) => key[..Math.Max(0, key.LastIndexOf(':'))];

    /// <summary>Keeps the read ends of the streams that go to the unit's log (null: that stream goes to a file, a terminal or /dev/null).</summary>
    public void Hold(string unit, SafeHandle? stdout, SafeHandle? stderr)
    {
        if (stdout is not null) Put(unit + ":out", stdout);
        if (stderr is not null) Put(unit + ":err", stderr);
    }

    private void Put(string key, SafeHandle fd)
    {
        if (_holder is not { } holder) return;
        try
        {
            holder.Put(key, fd);
        }
        catch (IOException e)
        {
            if (Interlocked.Exchange(ref _failed, 1) == 0)
                logger.LogWarning("the fd holder is gone ({Message}): a killed supervisor's services will lose their output", e.Message);
        }
    }

    public void Release(string unit)
    {
        if (_holder is not { } holder) return;
        try
        {
            holder.Delete(unit + ":out");
            holder.Delete(unit + ":err");
        }
        catch (IOException) { }
    }

    /// <summary>
    /// The read ends a previous supervisor left for <paramref name="slot"/>, pumped into its log again
    /// with the unit's identifier; false when there are none (neither stream went to the log, or no holder).
    /// </summary>
    public bool Recapture(UnitSlot slot, string identifier, bool levelPrefix, CancellationToken stopping)
    {
        bool any = false;
        if (_recovered.Remove(slot.Name + ":out", out var outFd))
        {
            _ = slot.Log.PumpAsync(new Socket(outFd), identifier + " stdout", levelPrefix, stopping);
            any = true;
        }
        if (_recovered.Remove(slot.Name + ":err", out var errFd))
        {
            _ = slot.Log.PumpAsync(new Socket(errFd), identifier + " stderr", levelPrefix, stopping);
            any = true;
        }
        return any;
    }

    /// <summary>A clean stop: nothing is left to keep for a next supervisor, so the holder exits.</summary>
    public void Quit()
    {
        try
        {
            _holder?.Quit();
        }
        catch (IOException) { }
        _holder?.Dispose();
        _holder = null;
    }
}
