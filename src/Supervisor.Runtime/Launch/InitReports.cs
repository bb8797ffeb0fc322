using System.Buffers.Binary;
using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Sandbox;

namespace Supervisor.Runtime.Launch;

/// <summary>
/// Type=forking in a pid namespace (<see cref="ExecPlan.InitReports"/>). The supervisor's child is
/// the namespace's init; the forking parent and the daemon it leaves behind are the init's
/// children, so their exit statuses reach us only as the init's reports: the parent's ends the
/// start (clean: look for the daemon; else the start failed), the daemon's, once
/// <see cref="MainPidFinder"/> named it by its pid in the namespace, is the main process's exit.
/// The init itself stays while the namespace has processes; its own exit delivers the main
/// process's exit only if no report did (it was killed, or the pipe was lost).
/// </summary>
internal sealed class InitReports : IDisposable
{
    private readonly object _gate = new();
    private readonly SafeFd _fd;
    private readonly ulong _token;
    private readonly Action<ExitInfo, int> _mainExited;
    private readonly int _parentHostPid;
    private readonly byte[] _partial = new byte[HelperProtocol.InitReportBytes];
    private int _partialLength;
    /// <summary>Exits reported for processes that are not (yet) the main one, by pid in the namespace.</summary>
    private readonly Dictionary<int, ExitInfo> _exited = [];
    private (int NsPid, int HostPid)? _main;
    private bool _delivered;

    /// <param name="mainExited">Called with an exit and the host pid it belongs to (the parent's, then the daemon's), once each.</param>
    public InitReports(SafeFd fd, int parentHostPid, Action<ExitInfo, int> mainExited)
    {
        _fd = fd;
        // Drained until EAGAIN, from the loop and from the init's exit alike: never blocks.
        Libc.Fcntl(fd.Fd, Libc.F_SETFL, Libc.O_NONBLOCK);
        _parentHostPid = parentHostPid;
        _mainExited = mainExited;
        _token = EventLoop.Shared.Add(fd, _ => Drain());
    }

    /// <summary>The daemon was found: its pid inside the namespace and on the host. Its exit may already have been reported.</summary>
    public void MainIs(int nsPid, int hostPid)
    {
        ExitInfo? early = null;
        lock (_gate)
        {
            _main = (nsPid, hostPid);
            _delivered = false;
            if (_exited.Remove(nsPid, out var exit))
            {
                early = exit;
                _delivered = true;
            }
        }
        if (early is { } e) _mainExited(e, hostPid);
    }

    /// <summary>
    /// The init has exited with <paramref name="exit"/>: what is left in the pipe is read first; then,
    /// if the current main process's exit was never reported, the init's exit stands for it.
    /// </summary>
    public void InitExited(ExitInfo exit)
    {
        Drain();
        int? hostPid = null;
        lock (_gate)
        {
            if (!_delivered)
            {
                _delivered = true;
                hostPid = _main?.HostPid ?? _parentHostPid;
            }
        }
        if (hostPid is { } pid) _mainExited(exit, pid);
    }

    private void Drain()
    {
        var delivered = new List<(ExitInfo, int)>();
        lock (_gate)
        {
            if (_fd.IsClosed) return;
            Span<byte> buffer = stackalloc byte[HelperProtocol.InitReportBytes * 64];
            while (true)
            {
                nint n = Libc.Read(_fd.Fd, buffer);
                if (n <= 0) break; // EOF (the init exited) or EAGAIN (nothing more now)
                foreach (var (nsPid, status, flags) in Records(buffer[..(int)n]))
                {
                    var exit = ExitInfo.FromWaitStatus(status);
                    if ((flags & HelperProtocol.InitReportService) != 0)
                    {
                        if (_main is null && !_delivered)
                        {
                            _delivered = true;
                            delivered.Add((exit, _parentHostPid));
                        }
                    }
                    else if (_main is { } m && m.NsPid == nsPid && !_delivered)
                    {
                        _delivered = true;
                        delivered.Add((exit, m.HostPid));
                    }
                    else if (_main is null)
                    {
                        _exited[nsPid] = exit;
                    }
                }
            }
        }
        foreach (var (exit, pid) in delivered) _mainExited(exit, pid);
    }

    /// <summary>Whole records; a record split across two reads is kept until its rest arrives.</summary>
    private List<(int NsPid, int Status, uint Flags)> Records(ReadOnlySpan<byte> data)
    {
        var records = new List<(int, int, uint)>();
        const int Size = HelperProtocol.InitReportBytes;
        while (data.Length > 0)
        {
            int take = Math.Min(Size - _partialLength, data.Length);
            data[..take].CopyTo(_partial.AsSpan(_partialLength));
            _partialLength += take;
            data = data[take..];
            if (_partialLength < Size) break;
            _partialLength = 0;
            records.Add((BinaryPrimitives.ReadInt32LittleEndian(_partial), BinaryPrimitives.ReadInt32LittleEndian(_partial.AsSpan(4)),
                BinaryPrimitives.ReadUInt32LittleEndian(_partial.AsSpan(8))));
        }
        return records;
    }

    public void Dispose()
    {
        EventLoop.Shared.Remove(_token);
        lock (_gate) _fd.Dispose();
    }
}
