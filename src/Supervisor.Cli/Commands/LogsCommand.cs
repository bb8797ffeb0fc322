using System.CommandLine;
using System.Globalization;
using Supervisor.Supervision.Logs;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor logs UNIT`: the unit's log file, read directly (so it works without the daemon),
/// from the log directory the running daemon names unless --state-dir says otherwise.
/// </summary>
internal static class LogsCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit" };
        var state = new Option<string?>("--state-dir") { Description = "the daemon's state directory (default: the running daemon's, else /var/lib/supervisor)" };
        var lines = new Option<int>("-n", "--lines") { Description = "how many lines", DefaultValueFactory = _ => 50 };
        var follow = new Option<bool>("-f", "--follow") { Description = "keep printing new lines" };
        var since = new Option<string?>("--since") { Description = "only lines from this time on: a UTC time like 2026-11-25T13:00:00, or a duration ago like 10min" };
        var runtime = ClientOptions.RuntimeDirOption();
        var timeout = ClientOptions.TimeoutOption();
        var command = new Command("logs", "Print a unit's output (timestamped, with the supervisor's own lines about it).") { unit, state, lines, follow, since, runtime, timeout };
        command.SetAction(async (r, ct) =>
        {
            if (!TryParseSince(r.GetValue(since), out var from))
            {
                error.WriteLine($"supervisor: --since: expected a UTC time like 2026-11-25T13:00:00 or a duration like 10min, got \"{r.GetValue(since)}\"");
                return ExitCodes.Usage;
            }
            var dir = r.GetValue(state) is { } stateDirectory ? Path.Combine(stateDirectory, "logs")
                : DaemonPaths.Resolve(ClientOptions.From(r, runtime, timeout), error, null).LogDirectory;
            var name = r.GetValue(unit)!;
            var path = UnitLog.PathFor(dir, name);
            if (!File.Exists(path) && !File.Exists(path + ".1"))
            {
                error.WriteLine(Unreadable(dir) ?? $"supervisor: no log for unit '{name}' in '{dir}' (has it run? use --state-dir if the daemon was started with one)");
                return ExitCodes.Failure;
            }
            foreach (var l in UnitLog.Tail(dir, name, r.GetValue(lines), from)) output.WriteLine(l);
            if (r.GetValue(follow)) await FollowAsync(path, output, ct);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Why <paramref name="dir"/> cannot be read, when it cannot: unit logs are root's (state directory 0700, logs 0640).</summary>
    internal static string? Unreadable(string dir)
    {
        try
        {
            _ = Directory.EnumerateFiles(dir).FirstOrDefault();
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return $"supervisor: cannot read '{dir}': unit logs are readable by root only (services may print secrets); try: sudo supervisor logs …";
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool TryParseSince(string? text, out DateTime? from)
    {
        from = null;
        if (text is null) return true;
        if (Units.Values.Duration.TryParse(text, out var ago) && !ago.IsInfinity)
            from = DateTime.UtcNow - ago.ToTimeSpan();
        else if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
            from = at;
        return from is not null;
    }

    /// <summary>Prints what is appended to the log until Ctrl-C; a rotation starts again at the new file's beginning.</summary>
    private static async Task FollowAsync(string path, TextWriter output, CancellationToken ct)
    {
        long position = File.Exists(path) ? new FileInfo(path).Length : 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(250, ct);
                var length = File.Exists(path) ? new FileInfo(path).Length : 0;
                if (length < position) position = 0; // rotated
                if (length == position) continue;
                using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                s.Position = position;
                using var reader = new StreamReader(s);
                output.Write(await reader.ReadToEndAsync(ct));
                output.Flush();
                position = length;
            }
        }
        catch (OperationCanceledException) { }
    }
}
