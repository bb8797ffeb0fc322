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

    public void Hold(string unit, SafeHandle stdout, SafeHandle stderr)
    {
        Put(unit + ":out", stdout);
        Put(unit + ":err", stderr);
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

    /// <summary>The read ends a previous supervisor left for <paramref name="slot"/>, pumped into its log again; false when there are none.</summary>
    public bool Recapture(UnitSlot slot, CancellationToken stopping)
    {
        if (!_recovered.Remove(slot.Name + ":out", out var outFd) || !_recovered.Remove(slot.Name + ":err", out var errFd)) return false;
        _ = slot.Log.PumpAsync(new Socket(outFd), "stdout", stopping);
        _ = slot.Log.PumpAsync(new Socket(errFd), "stderr", stopping);
        return true;
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
