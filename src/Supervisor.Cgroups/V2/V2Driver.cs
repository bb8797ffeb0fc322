namespace Supervisor.Cgroups.V2;

/// <summary>The cgroup v2 driver: one directory in the unified hierarchy.</summary>
internal sealed class V2Driver : DriverBase
{
    public V2Driver(DriverContext context) : base(context)
    {
        Enabled = new V2Controllers(context);
        MemoryController = new Memory(Enabled);
        Controllers = [MemoryController, new Cpu(Enabled), new Cpuset(Enabled), new Pids(Enabled), new Io(context, Enabled)];
        FreezerControl = new Freezer(context);
        ProgramControllers = [new Devices(context), new Firewall(), new SocketBind()];
    }

    public override int Version => 2;

    internal override IReadOnlyList<IController> Controllers { get; }

    internal override IReadOnlyList<Bpf.IProgramController> ProgramControllers { get; }

    internal V2Controllers Enabled { get; }

    internal Memory MemoryController { get; }

    internal Freezer FreezerControl { get; }

    internal string RootDir => Path.Combine(Layout.UnifiedMount!, Root);

    public override void PrepareRoot()
    {
        var parent = Path.GetDirectoryName(RootDir)!;
        if (!Directory.Exists(parent))
        {
            throw new CgroupException($"prepare cgroup subtree '{RootDir}' failed: parent '{parent}' does not exist");
        }
        // The one write above our subtree: a v2 controller is usable in a cgroup only when its parent
        // lists it in cgroup.subtree_control.
        EnableControllers(parent, confined: false);
        Context.Fs.Mkdir(RootDir);
        Enabled.Refresh();
    }

    /// <summary>
    /// Enables our controllers for the children of <paramref name="dir"/>: those its
    /// cgroup.controllers offers and its cgroup.subtree_control lacks, in one write.
    /// </summary>
    internal void EnableControllers(string dir, bool confined = true)
    {
        var offered = CgroupLayout.ReadControllerList(Path.Combine(dir, "cgroup.controllers"));
        var enabled = CgroupLayout.ReadControllerList(Path.Combine(dir, "cgroup.subtree_control"));
        var missing = CgroupLayout.V2Controllers.Where(c => offered.Contains(c) && !enabled.Contains(c)).ToArray();
        if (missing.Length == 0)
        {
            return;
        }
        var file = Path.Combine(dir, "cgroup.subtree_control");
        var value = string.Join(' ', missing.Select(c => "+" + c));
        try
        {
            if (confined)
            {
                Context.Fs.Write(file, value);
            }
            else
            {
                CgroupFs.WriteUnchecked(file, value);
            }
        }
        catch (CgroupIoException e) when (e.ErrorNumber == Supervisor.Linux.Errno.EBUSY)
        {
            throw new CgroupException($"{e.Message}: '{dir}' has processes of its own, and v2 lets only leaf cgroups hold processes with controllers enabled below them (move them into a child cgroup first)", e);
        }
    }

    public override ICgroup Open(CgroupPath path) => new V2Cgroup(this, path);
}
