using Supervisor.Linux.Files;
using Supervisor.Units;

namespace Supervisor.Runtime.Reconcile;

/// <summary>
/// Turns the units directory's inotify events into reconciles as soon as the burst that is
/// happening is over, instead of after a fixed delay. A batch is everything the kernel's queue
/// held when it was drained; it is acted on at once unless a file in it is still open for writing
/// (written, not yet closed: its content may be half there), or a unit file in it has vanished
/// (an editor moves the old file away before writing the new one): then the reconcile waits for
/// the writer's close, or for <see cref="RemovalGrace"/>, each at most as long as its bound. While
/// a reconcile runs, new events gather for the next one. Only unit files, drop-ins and drop-in
/// directories count; hidden files (editors' swap and temporary files) are ignored.
/// </summary>
public sealed class UnitFileChanges : IDisposable
{
    /// <summary>How long a file may stay open for writing before what it holds is read anyway (a file that does not parse then leaves its running unit alone).</summary>
    public static readonly TimeSpan WriterBound = TimeSpan.FromSeconds(2);

    /// <summary>How long a unit file that vanished is given to come back before its unit is stopped.</summary>
    public static readonly TimeSpan RemovalGrace = TimeSpan.FromMilliseconds(250);

    private readonly object _gate = new();
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _writing = new(StringComparer.Ordinal);
    private readonly Func<IReadOnlyCollection<string>?, Task> _reconcile;
    private readonly Timer _wait;
    private readonly DirectoryWatch _watch;
    private readonly TimeSpan _writerBound, _removalGrace;
    private bool _overflow, _running, _armed, _waited;

    /// <param name="reconcile">Called with the changed paths, or null when events were lost (then everything is read).</param>
    /// <param name="writerBound">Default <see cref="WriterBound"/>.</param>
    /// <param name="removalGrace">Default <see cref="RemovalGrace"/>.</param>
    public UnitFileChanges(string directory, Func<IReadOnlyCollection<string>?, Task> reconcile, TimeSpan? writerBound = null, TimeSpan? removalGrace = null)
    {
        _reconcile = reconcile;
        _writerBound = writerBound ?? WriterBound;
        _removalGrace = removalGrace ?? RemovalGrace;
        _wait = new Timer(_ => Waited());
        _watch = new DirectoryWatch(directory, OnBatch);
    }

    /// <summary>A change is held until a file open for writing is closed.</summary>
    public bool WaitsForWriter
    {
        get { lock (_gate) return _armed && _writing.Count > 0; }
    }

    /// <summary>A change is held because a unit file vanished (it may be replaced in a moment).</summary>
    public bool WaitsForReplacement
    {
        get { lock (_gate) return _armed && _writing.Count == 0 && _changed.Any(Vanished); }
    }

    /// <summary>A unit file, a drop-in or a drop-in directory; not a hidden file.</summary>
    public static bool Matters(string path)
    {
        var name = Path.GetFileName(path);
        return !name.StartsWith('.')
            && (name.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) || name.EndsWith(UnitLoader.DropInSuffix, StringComparison.Ordinal));
    }

    /// <summary>On the event loop thread: only takes note.</summary>
    private void OnBatch(IReadOnlyList<DirectoryEvent> events)
    {
        lock (_gate)
        {
            foreach (var e in events)
            {
                if (e.Change == DirectoryChange.Overflow) _overflow = true;
                else if (Matters(e.Path)) Note(e);
            }
        }
        Kick();
    }

    private void Note(DirectoryEvent e)
    {
        switch (e.Change)
        {
            case DirectoryChange.Writing:
                _writing.Add(e.Path);
                return;
            case DirectoryChange.Created:
                _writing.Add(e.Path); // created by open(O_CREAT): written next, complete at its close
                break;
            case DirectoryChange.Written or DirectoryChange.Gone:
                _writing.Remove(e.Path);
                break;
        }
        _changed.Add(e.Path);
    }

    /// <summary>Starts the reconcile when the burst is over, or arms the one bounded wait.</summary>
    private void Kick()
    {
        IReadOnlyCollection<string>? paths;
        lock (_gate)
        {
            if (_running || (_changed.Count == 0 && !_overflow)) return;
            if (!_waited && !_overflow && (_writing.Count > 0 || _changed.Any(Vanished)))
            {
                if (!_armed) _wait.Change(_writing.Count > 0 ? _writerBound : _removalGrace, Timeout.InfiniteTimeSpan);
                _armed = true;
                return;
            }
            paths = _overflow ? null : [.. _changed];
            _changed.Clear();
            _writing.Clear();
            _overflow = _waited = _armed = false;
            _wait.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _running = true;
        }
        // Never on the event loop thread: the reconcile reads files and plans.
        _ = Task.Run(async () =>
        {
            try
            {
                await _reconcile(paths);
            }
            finally
            {
                lock (_gate) _running = false;
                Kick();
            }
        });
    }

    private static bool Vanished(string path) =>
        path.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal) && !File.Exists(path) && !Directory.Exists(path);

    private void Waited()
    {
        lock (_gate)
        {
            if (!_armed) return;
            _waited = true;
        }
        Kick();
    }

    public void Dispose()
    {
        _watch.Dispose();
        _wait.Dispose();
    }
}
