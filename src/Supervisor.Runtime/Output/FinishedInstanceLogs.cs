using Supervisor.Supervision.Logs;
using Supervisor.Units.Templates;

namespace Supervisor.Runtime.Output;

/// <summary>
/// The log files of transient units that are gone (one instance per connection of an Accept=yes
/// socket, each with its own UNIT.log): the newest <see cref="KeepPerTemplate"/> of each template
/// stay for <c>supervisor logs</c>, older ones are deleted with their rotated files. Without it a
/// busy inetd-style socket would leave a file per connection in the log directory forever
/// (systemd's journal, where these lines go under systemd, caps them by size instead). Counted
/// per daemon run: files of instances that ended under an earlier supervisor are left alone.
/// </summary>
public sealed class FinishedInstanceLogs(string directory)
{
    public const int KeepPerTemplate = 100;

    private readonly Dictionary<string, Queue<string>> _finished = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    /// <summary>Records that transient unit <paramref name="unit"/> is gone; deletes the logs of the oldest beyond the limit.</summary>
    public void Finished(string unit)
    {
        string? evicted = null;
        lock (_gate)
        {
            var template = UnitNameParts.TemplateOf(unit) ?? unit;
            if (!_finished.TryGetValue(template, out var queue)) _finished[template] = queue = new Queue<string>();
            queue.Enqueue(unit);
            if (queue.Count > KeepPerTemplate) evicted = queue.Dequeue();
        }
        if (evicted is not null) Delete(evicted);
    }

    private void Delete(string unit)
    {
        var current = UnitLog.PathFor(directory, unit);
        try
        {
            File.Delete(current);
            // Rotated: UNIT.log.1 … UNIT.log.N.
            foreach (var rotated in Directory.EnumerateFiles(directory, Path.GetFileName(current) + ".*"))
                if (rotated.AsSpan(current.Length + 1).ContainsAnyExceptInRange('0', '9') is false) File.Delete(rotated);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The directory went away or a file is not ours to delete: nothing else depends on it.
        }
    }
}
