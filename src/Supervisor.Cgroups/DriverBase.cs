namespace Supervisor.Cgroups;

/// <summary>What both drivers share: validation, the cannot-honour report, the description.</summary>
internal abstract class DriverBase : ICgroupDriver
{
    protected DriverBase(DriverContext context) => Context = context;

    internal DriverContext Context { get; }

    internal abstract IReadOnlyList<IController> Controllers { get; }

    /// <summary>What is enforced by BPF programs on the cgroup instead of files (v2 only).</summary>
    internal virtual IReadOnlyList<Bpf.IProgramController> ProgramControllers => [];

    public CgroupLayout Layout => Context.Layout;

    public abstract int Version { get; }

    public string Root => Context.Root;

    public IReadOnlyList<string> Subtrees => Context.Fs.Subtrees;

    public string Describe() => $"{Layout.Describe()}; driver v{Version}, subtree {string.Join(", ", Subtrees)}";

    public IReadOnlyList<Unhonoured> CannotHonour(ResourceLimits limits)
    {
        var list = new List<Unhonoured>();
        foreach (var c in Controllers)
        {
            c.CannotHonour(limits, list);
        }
        foreach (var p in ProgramControllers)
        {
            p.CannotHonour(limits, list);
        }
        return list;
    }

    public void Validate(ResourceLimits limits) => Validation.Validate(limits, Context);

    public abstract void PrepareRoot();

    public abstract ICgroup Open(CgroupPath path);
}

/// <summary>Picks the driver for the host layout.</summary>
public static class CgroupDriver
{
    /// <summary>The subtree name used when not delegated by systemd.</summary>
    public const string DefaultRoot = "supervisor";

    /// <param name="layout">From <see cref="CgroupLayout.Detect"/>.</param>
    /// <param name="root">
    /// The supervisor's subtree relative to each hierarchy: "supervisor", or the delegated subtree
    /// from <see cref="CgroupLayout.DelegatedSubtree"/> when running under systemd.
    /// </param>
    public static ICgroupDriver Create(CgroupLayout layout, string root = DefaultRoot, CgroupDriverOptions? options = null)
    {
        root = root.Trim('/');
        if (root.Length == 0 || root.Split('/').Any(s => s is "" or "." or ".."))
        {
            throw new ArgumentException($"cgroup subtree \"{root}\" must be a non-empty relative path below the hierarchy root, without \".\" or \"..\"", nameof(root));
        }
        var resolve = options?.ResolveDevice ?? DriverContext.StatDevice;
        if (layout.IsV2)
        {
            var fs = new CgroupFs([Path.Combine(layout.UnifiedMount!, root)]);
            return new V2.V2Driver(new DriverContext(layout, root, fs, resolve, options));
        }
        var hierarchies = layout.V1Mounts.Where(kv => CgroupLayout.V1Controllers.Contains(kv.Key))
            .Select(kv => kv.Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var v1fs = new CgroupFs(hierarchies.Select(h => Path.Combine(h, root)));
        return new V1.V1Driver(new DriverContext(layout, root, v1fs, resolve, options));
    }
}
