namespace Supervisor.Linux.Files;

/// <summary>
/// realpath(3) written out, so that it can also resolve inside a root directory: every symbolic
/// link on the way is followed, an absolute link restarting at the root; a missing component and
/// what follows it are kept as written (the path may be created later).
/// </summary>
public static class RealPath
{
    /// <param name="root">Resolve as a process chrooted there sees it (links are read below it); null: the host's /.</param>
    public static string Resolve(string path, string? root = null)
    {
        string OnHost(string p) => root is null ? p : p == "/" ? root : root.TrimEnd('/') + p;
        var todo = new List<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var result = "/";
        for (int hops = 0; todo.Count > 0;)
        {
            var name = todo[0];
            todo.RemoveAt(0);
            if (name is "." or "..")
            {
                result = name == "." || result == "/" ? result : Path.GetDirectoryName(result) ?? "/";
                continue;
            }
            var next = result == "/" ? "/" + name : result + "/" + name;
            string? target;
            try
            {
                target = new FileInfo(OnHost(next)).LinkTarget;
            }
            catch (IOException)
            {
                target = null;
            }
            catch (UnauthorizedAccessException)
            {
                target = null;
            }
            // ELOOP's limit (40 links): past it the rest is kept as written.
            if (target is null || ++hops > 40)
            {
                result = next;
                continue;
            }
            todo.InsertRange(0, target.Split('/', StringSplitOptions.RemoveEmptyEntries));
            if (target.StartsWith('/'))
                result = "/";
        }
        return result;
    }
}
