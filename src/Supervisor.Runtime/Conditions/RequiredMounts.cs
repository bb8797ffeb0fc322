namespace Supervisor.Runtime.Conditions;

/// <summary>
/// RequiresMountsFor=: systemd adds Requires= and After= on the mount unit of every prefix of each
/// path that has a mount unit, and mounts what is not mounted. Supervisor does not mount file
/// systems: the mount units it knows are /etc/fstab's entries, and one that is declared there but
/// not mounted when the unit starts fails the start as a dependency, naming the mount point. A
/// prefix that fstab does not declare is no dependency (systemd has no unit for it either).
/// </summary>
public static class RequiredMounts
{
    /// <summary>Why the unit cannot start ("RequiresMountsFor=/srv/db: /srv is in /etc/fstab but not mounted"), or null.</summary>
    public static string? Missing(IReadOnlyList<string> paths, HostFacts facts)
    {
        if (paths.Count == 0) return null;
        var declared = Declared(facts.FstabPath);
        if (declared.Count == 0) return null;
        var mounted = facts.MountedPoints();
        foreach (var path in paths)
            foreach (var prefix in Prefixes(path))
                if (declared.Contains(prefix) && !mounted.Contains(prefix))
                    return $"RequiresMountsFor={path}: {prefix} is declared in {facts.FstabPath} but not mounted (Supervisor does not mount file systems)";
        return null;
    }

    /// <summary>"/var/lib/x" → "/", "/var", "/var/lib", "/var/lib/x" (".", "..", doubled slashes normalized away).</summary>
    public static IEnumerable<string> Prefixes(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        yield return "/";
        for (int i = 1; i <= parts.Count; i++)
            yield return "/" + string.Join('/', parts.Take(i));
    }

    /// <summary>The mount points /etc/fstab declares (not swap, not "none"), unescaped and without a trailing slash.</summary>
    public static IReadOnlySet<string> Declared(string fstab)
    {
        var points = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(fstab)) return points;
        foreach (var raw in File.ReadLines(fstab))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3 || f[2] == "swap" || !f[1].StartsWith('/')) continue;
            var point = Mounts.Unescape(f[1]);
            points.Add(point.Length > 1 ? point.TrimEnd('/') : point);
        }
        return points;
    }
}
