using System.Collections.Concurrent;
using Supervisor.Linux.Files;

namespace Supervisor.Units;

/// <summary>
/// A unit file is code that runs as root: when the supervisor is root, a file (or a directory
/// it is in) that another user could write would hand that user root. Every unit file, drop-in,
/// drop-in directory and units directory must be owned by root and not writable by its group or
/// others. A symbolic link is followed only when the link, every directory on the way to its
/// target, every further link, and the target itself pass the same test: otherwise whoever can
/// write one of them can point the link at a file of their own.
/// </summary>
internal sealed class UnitFileSafety(List<Diagnostic> diagnostics, ConcurrentDictionary<string, bool> checkedDirs)
{
    /// <summary>Checks a unit file or drop-in and the directory it is in (each directory judged once).</summary>
    public bool CheckFileAndDirectory(string path, string what, string unit)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!checkedDirs.TryGetValue(dir, out var dirOk))
            checkedDirs[dir] = dirOk = Check(dir, "directory", unit);
        return Check(path, what, unit) && dirOk;
    }

    /// <summary>Checks one file or directory; a symbolic link is checked all the way to its target.</summary>
    public bool Check(string path, string what, string unit)
    {
        if (!Statx.TryGet(path, follow: false, out var status, out var errno))
            return Unreadable(path, what, unit, errno);
        if (status.IsSymlink)
            return CheckLink(path, what, unit, status);
        if (Judge(path, status) is not { } problem) return true;
        var why = problem.Owner
            ? "the supervisor runs as root, and a unit file is code it runs as root"
            : "whoever can write it can run code as root";
        Refuse(path, unit, $"refusing {what} {problem.Text}: {why}", problem.Fix);
        return false;
    }

    /// <summary>Not owned by root, or writable by group or others: what is wrong and the command that fixes it.</summary>
    private static (string Text, string Fix, bool Owner)? Judge(string path, FileStatus status)
    {
        if (status.Uid != 0)
            return ($"owned by uid {status.Uid}", $"chown root:root '{path}'", true);
        if (status.IsSymlink || (status.Mode & 0b000_010_010) == 0) return null; // a link's own mode is always 0777 and unused
        var who = (status.Mode & 0b010) != 0 ? "everyone" : "its group";
        return ($"writable by {who} (mode {Convert.ToString(status.Permissions, 8).PadLeft(4, '0')})", $"chmod go-w '{path}'", false);
    }

    /// <summary>
    /// Resolves the link's target component by component, as the kernel does, and judges every
    /// directory passed, every further link met and the final target. A relative target starts
    /// from the link's directory, which is judged already (as the unit's directory): the way to
    /// it is resolved, not judged, as for a regular unit file.
    /// </summary>
    private bool CheckLink(string link, string what, string unit, FileStatus linkStatus)
    {
        if (Judge(link, linkStatus) is { } own)
            return RefuseLink(link, what, unit, "the link itself", link, own);
        var target = ReadLink(link);
        var walk = new List<(string Part, bool Judge)>();
        if (!target.StartsWith('/'))
            walk.AddRange(Components(Path.GetDirectoryName(Path.GetFullPath(link))!).Select(p => (p, false)));
        else if (!CheckOnTheWay(link, what, unit, "/", "the directory"))
            return false;
        walk.AddRange(Components(target).Select(p => (p, true)));
        return Walk(link, what, unit, walk);
    }

    private bool Walk(string link, string what, string unit, List<(string Part, bool Judge)> walk)
    {
        var current = "/";
        for (int links = 1; walk.Count > 0;)
        {
            var (part, judge) = walk[0];
            walk.RemoveAt(0);
            var next = part == ".." ? Path.GetDirectoryName(current) ?? "/" : Path.Combine(current, part);
            if (!Statx.TryGet(next, follow: false, out var status, out var errno))
                return Unreadable(link, what, unit, errno);
            if (status.IsSymlink)
            {
                if (++links > Limits.MaxSymlinks)
                    return Refuse(link, unit, $"refusing {what}: more than {Limits.MaxSymlinks} symbolic links on the way to its target");
                if (judge && Judge(next, status) is { } linkProblem)
                    return RefuseLink(link, what, unit, "the symbolic link", next, linkProblem);
                var target = ReadLink(next);
                if (target.StartsWith('/'))
                {
                    current = "/";
                    if (judge && !CheckOnTheWay(link, what, unit, "/", "the directory")) return false;
                }
                walk.InsertRange(0, Components(target).Select(p => (p, judge)));
                continue;
            }
            if (judge && Judge(next, status) is { } problem)
                return RefuseLink(link, what, unit, walk.Count == 0 ? "its target" : "the directory", next, problem);
            current = next;
        }
        return true;
    }

    private bool CheckOnTheWay(string link, string what, string unit, string path, string kind)
    {
        if (!Statx.TryGet(path, follow: false, out var status, out var errno))
            return Unreadable(link, what, unit, errno);
        return Judge(path, status) is not { } problem || RefuseLink(link, what, unit, kind, path, problem);
    }

    private bool RefuseLink(string link, string what, string unit, string kind, string path, (string Text, string Fix, bool Owner) problem)
    {
        var which = kind switch
        {
            "the link itself" => kind,
            "its target" => $"its target '{path}'",
            _ => $"{kind} '{path}' on the way to its target",
        };
        return Refuse(link, unit,
            $"refusing {what}: it is a symbolic link, and {which} is {problem.Text}; whoever can change it can point the link at code the supervisor runs as root",
            problem.Fix);
    }

    /// <summary>A missing or unreadable file is reported by the reader with its own message; anything else here.</summary>
    private bool Unreadable(string path, string what, string unit, int errno) =>
        errno is 2 or 13 || Refuse(path, unit, $"cannot stat {what}: {Syntax.UnitFileReader.ErrnoText(errno)}");

    private bool Refuse(string path, string unit, string message, string? hint = null)
    {
        lock (diagnostics)
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(path), unit, null, null, message, hint));
        return false;
    }

    private static string ReadLink(string path) => new FileInfo(path).LinkTarget ?? "";

    private static IEnumerable<string> Components(string target) =>
        target.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
}
