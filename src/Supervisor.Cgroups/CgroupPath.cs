using System.Text;

namespace Supervisor.Cgroups;

/// <summary>
/// Where a unit or slice lives below the supervisor's root, with systemd's naming: unit `web` in
/// slice `a-b` is `a.slice/a-b.slice/web.service`; slice `a-b` is a child of slice `a`.
/// </summary>
public sealed class CgroupPath : IEquatable<CgroupPath>
{
    private CgroupPath(IReadOnlyList<string> segments) => Segments = segments;

    /// <summary>The root of the supervisor's subtree itself.</summary>
    public static CgroupPath Root { get; } = new([]);

    /// <summary>Directory names from the top, e.g. ["a.slice", "a-b.slice", "web.service"].</summary>
    public IReadOnlyList<string> Segments { get; }

    /// <summary>"a.slice/a-b.slice/web.service" ("" for the root).</summary>
    public string Relative => string.Join('/', Segments);

    public CgroupPath? Parent => Segments.Count == 0 ? null : new CgroupPath(Segments.Take(Segments.Count - 1).ToArray());

    /// <summary>The slices above this path, outermost first (for applying slice limits level by level).</summary>
    public IReadOnlyList<CgroupPath> Ancestors
    {
        get
        {
            var list = new List<CgroupPath>();
            for (var i = 1; i < Segments.Count; i++)
            {
                list.Add(new CgroupPath(Segments.Take(i).ToArray()));
            }
            return list;
        }
    }

    /// <summary>
    /// The unit `name` (".service" added when it has no suffix) inside `slice` (null/""/"-" = top).
    /// A template instance ("sshd@0-127.0.0.1:22-127.0.0.1:5000") always gets ".service" unless it
    /// ends in a unit type: the dots of a connection's addresses are no suffix.
    /// </summary>
    public static CgroupPath ForUnit(string name, string? slice = null)
    {
        CheckName(name, "unit");
        bool suffixed = name.Contains('@', StringComparison.Ordinal)
            ? name.EndsWith(".service", StringComparison.Ordinal) || name.EndsWith(".socket", StringComparison.Ordinal)
            : name.Contains('.', StringComparison.Ordinal);
        var leaf = suffixed ? name : name + ".service";
        var segments = SliceSegments(slice).ToList();
        segments.Add(leaf);
        return new CgroupPath(segments);
    }

    /// <summary>The slice `a-b` (or `a-b.slice`): `a.slice/a-b.slice`.</summary>
    public static CgroupPath ForSlice(string slice) => new(SliceSegments(slice).ToArray());

    private static IEnumerable<string> SliceSegments(string? slice)
    {
        if (string.IsNullOrEmpty(slice) || slice is "-" or "-.slice")
        {
            return [];
        }
        var name = slice.EndsWith(".slice", StringComparison.Ordinal) ? slice[..^".slice".Length] : slice;
        CheckName(name, "slice");
        if (name.StartsWith('-') || name.EndsWith('-') || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"slice name \"{slice}\" is invalid: dashes separate levels, so it may not start or end with one or contain two in a row", nameof(slice));
        }
        var parts = name.Split('-');
        if (parts.Length > CgroupConstants.MaxSliceDepth)
        {
            throw new ArgumentException($"slice name \"{slice}\" nests {parts.Length} levels deep; the limit is {CgroupConstants.MaxSliceDepth}", nameof(slice));
        }
        var segments = new List<string>();
        var prefix = new StringBuilder();
        foreach (var part in parts)
        {
            if (prefix.Length > 0)
            {
                prefix.Append('-');
            }
            prefix.Append(part);
            segments.Add(prefix + ".slice");
        }
        return segments;
    }

    private static void CheckName(string name, string what)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{what} name \"{name}\" cannot be a cgroup directory name", nameof(name));
        }
    }

    public bool Equals(CgroupPath? other) => other is not null && Relative == other.Relative;

    public override bool Equals(object? obj) => obj is CgroupPath other && Equals(other);

    public override int GetHashCode() => Relative.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Relative.Length == 0 ? "/" : Relative;
}
