using System.Diagnostics;
using System.Net.Sockets;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #13: no file in the units directory can hang the loader or hand a non-root user the
/// code the supervisor runs as root (FIFOs, sockets, devices; symlinks to files someone else can swap).
/// </summary>
public class FileSafetyTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/true\"]\n";
    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };
    private static readonly LoadOptions AsRoot = new() { RequireRootOwnership = true };

    /// <summary>Loads on another thread; a loader stuck in open(2) fails the test instead of hanging it.</summary>
    private static async Task<UnitSet> LoadWithoutHanging(Func<UnitSet> load, string? fifoToRelease = null)
    {
        var loading = Task.Run(load, TestContext.Current.CancellationToken);
        try
        {
            return await loading.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            // Failure guard only: unblock the open(2) that waits for a writer, so the test process ends.
            if (fifoToRelease is not null) using (File.OpenWrite(fifoToRelease)) { }
            Assert.Fail("loading the unit files blocked");
            return null!;
        }
    }

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(program, args);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public async Task A_fifo_named_like_a_unit_is_refused_without_blocking_and_the_others_load()
    {
        using var t = new TempUnits();
        t.Write("good.toml", Svc);
        var fifo = Path.Combine(t.Dir, "x.toml");
        Run("mkfifo", fifo);
        var set = await LoadWithoutHanging(() => UnitLoader.LoadDirectory(t.Dir, NoOwnership), fifo);
        Assert.Equal($"{fifo}: x: is a FIFO (named pipe), not a regular file; refusing to open it", Assert.Single(set.Diagnostics).ToString());
        Assert.Equal(["good"], set.Units.Keys);
        Assert.Equal(["x"], set.BadUnits.Keys);
    }

    [Fact]
    public async Task A_fifo_as_a_drop_in_is_refused_without_blocking()
    {
        using var t = new TempUnits();
        t.Write("web.toml", Svc);
        Directory.CreateDirectory(Path.Combine(t.Dir, "web.toml.d"));
        var fifo = Path.Combine(t.Dir, "web.toml.d", "10-x.toml");
        Run("mkfifo", fifo);
        var set = await LoadWithoutHanging(() => UnitLoader.LoadDirectory(t.Dir, NoOwnership), fifo);
        Assert.Contains("is a FIFO (named pipe), not a regular file", Assert.Single(set.Diagnostics).Message);
        Assert.Equal(["web"], set.BadUnits.Keys);
    }

    [Fact]
    public async Task A_socket_named_like_a_unit_is_refused()
    {
        using var t = new TempUnits();
        var path = Path.Combine(t.Dir, "sock.toml");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        var set = await LoadWithoutHanging(() => UnitLoader.LoadDirectory(t.Dir, NoOwnership));
        Assert.Equal($"{path}: sock: is a socket, not a regular file; refusing to open it", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public async Task A_link_to_a_device_is_refused_without_reading_it()
    {
        using var t = new TempUnits();
        var path = Path.Combine(t.Dir, "zero.toml");
        File.CreateSymbolicLink(path, "/dev/zero");
        var set = await LoadWithoutHanging(() => UnitLoader.LoadDirectory(t.Dir, NoOwnership));
        Assert.Equal($"{path}: zero: is a character device, not a regular file; refusing to open it", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public async Task A_fifo_given_to_check_by_path_is_refused_without_blocking()
    {
        using var t = new TempUnits();
        var fifo = Path.Combine(t.Dir, "x.toml");
        Run("mkfifo", fifo);
        var set = await LoadWithoutHanging(() => UnitLoader.Load([fifo], NoOwnership), fifo);
        Assert.Contains("is a FIFO (named pipe)", Assert.Single(set.Diagnostics).Message);
    }

    private static void RequireRoot()
    {
        if (!LoadOptions.IsRoot) Assert.Skip("needs root: the ownership rules apply when the supervisor runs as root, and files must be chowned");
    }

    /// <summary>A directory with exactly this mode, owned by root (umask does not apply).</summary>
    private static string Dir(TempUnits t, string name, UnixFileMode mode)
    {
        var dir = Path.Combine(t.Dir, name);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, mode);
        return dir;
    }

    private const UnixFileMode Safe = (UnixFileMode)0b111_101_101;          // 0755
    private const UnixFileMode WorldWritable = (UnixFileMode)0b1_111_111_111; // 1777, like /tmp

    [Fact]
    public void As_root_a_link_to_a_root_owned_file_in_a_world_writable_directory_is_refused()
    {
        RequireRoot();
        using var t = new TempUnits(under: "/run");
        var units = Dir(t, "units", Safe);
        var shared = Dir(t, "shared", WorldWritable);
        var target = Path.Combine(shared, "web.toml");
        File.WriteAllText(target, Svc);
        var link = Path.Combine(units, "web.toml");
        File.CreateSymbolicLink(link, target);
        var set = UnitLoader.LoadDirectory(units, AsRoot);
        Assert.Equal(
            $"{link}: web: refusing unit file: it is a symbolic link, and the directory '{shared}' on the way to its target is writable by everyone (mode 1777); " +
            $"whoever can change it can point the link at code the supervisor runs as root; chmod go-w '{shared}'",
            Assert.Single(set.Diagnostics).ToString());
        Assert.Equal(["web"], set.BadUnits.Keys);
    }

    [Fact]
    public void As_root_a_link_whose_whole_way_is_root_owned_and_closed_loads()
    {
        RequireRoot();
        using var t = new TempUnits(under: "/run");
        var units = Dir(t, "units", Safe);
        var shared = Dir(t, "shared", Safe);
        File.WriteAllText(Path.Combine(shared, "web.toml"), Svc);
        // Relative, through "..", and through a second link: each step is judged and passes.
        File.CreateSymbolicLink(Path.Combine(shared, "current.toml"), "web.toml");
        File.CreateSymbolicLink(Path.Combine(units, "web.toml"), "../shared/current.toml");
        var set = UnitLoader.LoadDirectory(units, AsRoot);
        Assert.Empty(set.Diagnostics);
        Assert.Equal(["web"], set.Units.Keys);
    }

    [Fact]
    public void As_root_a_link_through_a_second_link_in_a_writable_directory_is_refused()
    {
        RequireRoot();
        using var t = new TempUnits(under: "/run");
        var units = Dir(t, "units", Safe);
        var safe = Dir(t, "safe", Safe);
        var open = Dir(t, "open", WorldWritable);
        File.WriteAllText(Path.Combine(safe, "web.toml"), Svc);
        var hop = Path.Combine(open, "hop.toml");
        File.CreateSymbolicLink(hop, Path.Combine(safe, "web.toml"));
        var link = Path.Combine(units, "web.toml");
        File.CreateSymbolicLink(link, hop);
        var d = Assert.Single(UnitLoader.LoadDirectory(units, AsRoot).Diagnostics);
        Assert.Equal($"refusing unit file: it is a symbolic link, and the directory '{open}' on the way to its target is writable by everyone (mode 1777); " +
            "whoever can change it can point the link at code the supervisor runs as root", d.Message);
    }

    [Fact]
    public void As_root_a_link_to_a_file_another_user_owns_is_refused()
    {
        RequireRoot();
        using var t = new TempUnits(under: "/run");
        var units = Dir(t, "units", Safe);
        var shared = Dir(t, "shared", Safe);
        var target = Path.Combine(shared, "web.toml");
        File.WriteAllText(target, Svc);
        Run("chown", "65534", target);
        File.CreateSymbolicLink(Path.Combine(units, "web.toml"), target);
        var d = Assert.Single(UnitLoader.LoadDirectory(units, AsRoot).Diagnostics);
        Assert.Equal($"refusing unit file: it is a symbolic link, and its target '{target}' is owned by uid 65534; " +
            "whoever can change it can point the link at code the supervisor runs as root", d.Message);
        Assert.Equal($"chown root:root '{target}'", d.Hint);
    }

    [Fact]
    public void As_root_a_symlinked_drop_in_is_judged_like_a_unit_file()
    {
        RequireRoot();
        using var t = new TempUnits(under: "/run");
        var units = Dir(t, "units", Safe);
        var open = Dir(t, "open", WorldWritable);
        File.WriteAllText(Path.Combine(units, "web.toml"), Svc);
        Directory.CreateDirectory(Path.Combine(units, "web.toml.d"));
        var target = Path.Combine(open, "evil.toml");
        File.WriteAllText(target, "[Service]\nUser = \"root\"\n");
        File.CreateSymbolicLink(Path.Combine(units, "web.toml.d", "50-evil.toml"), target);
        var set = UnitLoader.LoadDirectory(units, AsRoot);
        Assert.Contains("refusing drop-in: it is a symbolic link, and the directory", Assert.Single(set.Diagnostics).Message);
        Assert.Equal(["web"], set.BadUnits.Keys);
    }
}
