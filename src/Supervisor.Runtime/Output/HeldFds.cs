using Microsoft.Extensions.Logging;
using Supervisor.Linux;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The daemon's one session with <c>supervisor-holder</c> (<see cref="FdHolder"/>), shared by
/// everything it keeps there across a killed supervisor: the services' output read ends
/// (<see cref="OutputKeeper"/>), the socket units' listening sockets and the services' fd stores
/// (<see cref="Sockets.ListeningSockets"/>, <see cref="Sockets.FdStores"/>). Each owner keeps its
/// descriptors under keys of its own prefix; at start-up each claims what a killed supervisor left
/// under its prefix, and whatever nobody claimed is let go (<see cref="DropUnclaimed"/>).
/// Without a holder (the binary missing) every call does nothing: a killed supervisor then loses
/// what it kept, as before the holder existed.
/// </summary>
internal sealed class HeldFds(ILogger logger)
{
    private FdHolder? _holder;
    private Dictionary<string, SafeFd> _recovered = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private int _failed;

    /// <summary>Connects to (or starts) the holder at <paramref name="path"/> and takes back what it holds.</summary>
    public void Open(string path)
    {
        _holder = FdHolder.Open(path, logger);
        if (_holder is null) return;
        try
        {
            lock (_gate) _recovered = _holder.TakeAll();
        }
        catch (IOException e)
        {
            Warn(e);
        }
    }

    /// <summary>The descriptors a previous supervisor kept under keys starting with <paramref name="prefix"/>, now the caller's (the holder keeps its copies until deleted).</summary>
    public Dictionary<string, SafeFd> Claim(string prefix)
    {
        var result = new Dictionary<string, SafeFd>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var key in _recovered.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _recovered.Remove(key, out var fd);
                result[key] = fd!;
            }
        }
        return result;
    }

    /// <summary>The descriptor a previous supervisor kept under exactly <paramref name="key"/>, now the caller's; null when there is none.</summary>
    public SafeFd? Take(string key)
    {
        lock (_gate) return _recovered.Remove(key, out var fd) ? fd : null;
    }

    /// <summary>What no owner claimed at start-up (a unit removed meanwhile, one not adopted): closed here and in the holder.</summary>
    public void DropUnclaimed()
    {
        List<KeyValuePair<string, SafeFd>> rest;
        lock (_gate)
        {
            rest = [.. _recovered];
            _recovered.Clear();
        }
        foreach (var (key, fd) in rest)
        {
            fd.Dispose();
            Delete(key);
        }
    }

    /// <summary>Keeps a copy of <paramref name="fd"/> under <paramref name="key"/> (replacing an older one).</summary>
    public void Put(string key, System.Runtime.InteropServices.SafeHandle fd)
    {
        if (_holder is not { } holder) return;
        try
        {
            holder.Put(key, fd);
        }
        catch (IOException e)
        {
            Warn(e);
        }
    }

    public void Delete(string key)
    {
        if (_holder is not { } holder) return;
        try
        {
            holder.Delete(key);
        }
        catch (IOException) { } // the holder is gone: it keeps nothing any more, which is what a delete asks
    }

    private void Warn(IOException e)
    {
        if (Interlocked.Exchange(ref _failed, 1) == 0)
            logger.LogWarning("the fd holder is gone ({Message}): a killed supervisor's services will lose their output, listening sockets and fd stores", e.Message);
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
