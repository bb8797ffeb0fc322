using Supervisor.Linux.Files;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units;

/// <summary>
/// Bare program names ("redis-server") are resolved when the unit is loaded, in systemd's fixed
/// search path, so that <c>check</c> and start agree: a name that is not found is an error on
/// the unit at load, never a start that fails later. The resolved absolute path goes into the
/// model (<see cref="Command.ResolvedPath"/>), where the exec plan takes it from; argv[0] stays
/// as written. With RootDirectory the name is looked up inside the root, and the path stored is
/// the one inside it (the plan compiler places it under the root, as it does every path).
/// A program written as an absolute path is checked when it starts, as systemd does.
/// </summary>
public static class ExecutableSearch
{
    /// <summary>systemd's default PATH for services (DEFAULT_PATH without /snap/bin).</summary>
    public const string SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The unit with every bare program name resolved; errors for those not found.</summary>
    internal static ParsedUnit Resolve(ParsedUnit parsed, ICollection<Diagnostic> diagnostics)
    {
        var u = parsed.Definition;
        if (u.Kind != UnitKind.Service) return parsed;
        var root = u.Sandbox.RootDirectory is { Length: > 1 } r ? r.TrimEnd('/') : null;
        Command Find(Command command, string key, SourceLocation at)
        {
            if (command.WrittenProgram.StartsWith('/')) return command;
            // "+" runs outside the sandbox, RootDirectory included: its program is the host's (systemd).
            var under = command.Flags.HasFlag(ExecFlags.FullPrivileges) ? null : root;
            if (Lookup(command.WrittenProgram, under) is { } found) return command with { ResolvedPath = found };
            diagnostics.Add(new Diagnostic(Severity.Error, at, u.Name, KeyTable.ServiceSection, key,
                $"[Service] {key}: program '{command.WrittenProgram}' is not in {SearchPath}{(under is null ? "" : $" inside RootDirectory '{under}'")}",
                "install it, or write its absolute path"));
            return command;
        }
        var s = u.Service;
        var starts = FindAll(parsed, "ExecStart", s.ExecStartLines, Find, several: s.ExecStartMore.Count > 0);
        var service = s with
        {
            ExecStart = starts.Count > 0 ? starts[0] : null,
            ExecStartMore = starts.Count > 1 ? new ValueList<Command>(starts.Skip(1)) : s.ExecStartMore,
            ExecCondition = FindAll(parsed, "ExecCondition", s.ExecCondition, Find),
            ExecStartPre = FindAll(parsed, "ExecStartPre", s.ExecStartPre, Find),
            ExecStartPost = FindAll(parsed, "ExecStartPost", s.ExecStartPost, Find),
            ExecReload = FindAll(parsed, "ExecReload", s.ExecReload, Find),
            ExecStop = FindAll(parsed, "ExecStop", s.ExecStop, Find),
            ExecStopPost = FindAll(parsed, "ExecStopPost", s.ExecStopPost, Find),
        };
        return parsed with { Definition = u with { Service = service } };
    }

    /// <param name="several">The key holds an array of commands (always, but for ExecStart with one command).</param>
    private static ValueList<Command> FindAll(ParsedUnit parsed, string key, IReadOnlyList<Command> commands, Func<Command, string, SourceLocation, Command> find,
        bool several = true)
    {
        var written = several && parsed.Values.TryGetValue(KeyTable.ServiceSection + "." + key, out var v) ? v as TomlArray : null;
        return new ValueList<Command>(commands.Select((c, i) =>
            find(c, key, written is not null && i < written.Items.Count ? written.Items[i].Location : parsed.LocationOf(KeyTable.ServiceSection, key))));
    }

    /// <summary>The first "DIR/name" of the search path that is an executable regular file (under <paramref name="root"/> when set).</summary>
    public static string? Lookup(string name, string? root)
    {
        foreach (var dir in SearchPath.Split(':'))
        {
            var path = dir + "/" + name;
            if (Statx.TryGet((root ?? "") + path, follow: true, out var status, out _) && status.IsRegular && (status.Mode & 0b001_001_001) != 0)
                return path;
        }
        return null;
    }
}
