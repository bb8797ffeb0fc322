using System.Diagnostics;
using Supervisor.Runtime.Conditions;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>Each condition kind against real files and this process's real identity and host.</summary>
public sealed class ConditionCheckerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("supervisor-cond-").FullName;
    private readonly ConditionChecker _checker = new();

    public void Dispose() => Directory.Delete(_dir, true);

    private bool Holds(string kind, string value) => _checker.Holds(UnitCondition.Parse(kind, false, value));

    private string P(string name) => Path.Combine(_dir, name);

    private static string Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"{program} exited {p.ExitCode}: {p.StandardError.ReadToEnd()}");
    }

    [Fact]
    public void Path_kinds_read_the_file_system()
    {
        File.WriteAllText(P("full"), "x");
        File.WriteAllText(P("empty"), "");
        File.CreateSymbolicLink(P("link"), P("full"));
        File.CreateSymbolicLink(P("dangling"), P("nothing"));
        Directory.CreateDirectory(P("d"));
        Directory.CreateDirectory(P("hidden-only"));
        File.WriteAllText(P("hidden-only/.x"), "");
        File.WriteAllText(P("hidden-only/y~"), "");
        File.WriteAllText(P("d/a.conf"), "");
        File.WriteAllText(P("exe"), "");
        File.SetUnixFileMode(P("exe"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        Assert.True(Holds("PathExists", P("full")));
        Assert.False(Holds("PathExists", P("nothing")));
        Assert.False(Holds("PathExists", P("dangling")));
        Assert.True(Holds("PathExists", "!" + P("nothing")));
        Assert.True(Holds("PathExistsGlob", P("d/*.conf")));
        Assert.False(Holds("PathExistsGlob", P("d/*.txt")));
        Assert.True(Holds("PathIsDirectory", P("d")));
        Assert.False(Holds("PathIsDirectory", P("full")));
        Assert.True(Holds("PathIsSymbolicLink", P("link")));
        Assert.False(Holds("PathIsSymbolicLink", P("full")));
        Assert.True(Holds("DirectoryNotEmpty", P("d")));
        Assert.False(Holds("DirectoryNotEmpty", P("hidden-only")));
        Assert.True(Holds("FileNotEmpty", P("full")));
        Assert.True(Holds("FileNotEmpty", P("link")));
        Assert.False(Holds("FileNotEmpty", P("empty")));
        Assert.True(Holds("FileIsExecutable", P("exe")));
        Assert.False(Holds("FileIsExecutable", P("full")));
        Assert.False(Holds("FileIsExecutable", P("d")));
    }

    [Fact]
    public void PathIsMountPoint_and_PathIsReadWrite_follow_a_tmpfs_mounted_here()
    {
        if (Environment.UserName != "root") Assert.Skip("mounting a tmpfs needs root");
        var m = P("mnt");
        Directory.CreateDirectory(m);
        Assert.False(Holds("PathIsMountPoint", m));
        try
        {
            Run("/bin/mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", m);
        }
        catch (InvalidOperationException e)
        {
            Assert.Skip($"cannot mount a tmpfs here: {e.Message}");
        }
        try
        {
            Assert.True(Holds("PathIsMountPoint", m));
            Assert.True(Holds("PathIsReadWrite", m));
            Run("/bin/mount", "-o", "remount,ro", m);
            Assert.False(Holds("PathIsReadWrite", m));
            Assert.True(Holds("PathIsReadWrite", _dir));
        }
        finally
        {
            Run("/bin/umount", m);
        }
        Assert.False(Holds("PathIsMountPoint", m));
    }

    [Fact]
    public void User_and_Group_compare_with_this_process()
    {
        var uid = Run("/usr/bin/id", "-u");
        var gid = Run("/usr/bin/id", "-g");
        var name = Run("/usr/bin/id", "-un");
        Assert.True(Holds("User", uid));
        Assert.True(Holds("User", name));
        Assert.False(Holds("User", "4242"));
        Assert.Equal(int.Parse(uid) < 1000, Holds("User", "@system"));
        Assert.True(Holds("Group", gid));
        Assert.True(Holds("Group", Run("/usr/bin/id", "-gn")));
        Assert.False(Holds("Group", "4243"));
    }

    [Fact]
    public void KernelVersion_Architecture_Host_Environment_and_the_command_line_read_this_host()
    {
        var release = Run("/bin/uname", "-r");
        var major = int.Parse(release.Split('.')[0]);
        Assert.True(Holds("KernelVersion", $">={major}.0"));
        Assert.False(Holds("KernelVersion", $">={major + 1}.0"));
        Assert.True(Holds("KernelVersion", $">={major}.0 <{major + 1}"));
        Assert.True(Holds("KernelVersion", $"{major}.*"));
        var arch = Run("/bin/uname", "-m") switch { "x86_64" => "x86-64", "aarch64" => "arm64", "i686" => "x86", var m => m };
        Assert.True(Holds("Architecture", arch));
        Assert.True(Holds("Architecture", "native"));
        Assert.False(Holds("Architecture", arch == "arm64" ? "x86-64" : "arm64"));
        var host = Run("/bin/hostname");
        Assert.True(Holds("Host", host));
        Assert.True(Holds("Host", host[..1] + "*"));
        Assert.False(Holds("Host", "not-" + host));
        Environment.SetEnvironmentVariable("SUPERVISOR_COND_TEST", "yes");
        Assert.True(Holds("Environment", "SUPERVISOR_COND_TEST"));
        Assert.True(Holds("Environment", "SUPERVISOR_COND_TEST=yes"));
        Assert.False(Holds("Environment", "SUPERVISOR_COND_TEST=no"));
        var first = File.ReadAllText("/proc/cmdline").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is not null) Assert.True(Holds("KernelCommandLine", first));
        Assert.False(Holds("KernelCommandLine", "supervisor.no-such-word"));
    }

    [Fact]
    public void Capability_reads_the_bounding_set()
    {
        var bounding = Convert.ToUInt64(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim(), 16);
        Assert.Equal((bounding & (1UL << 21)) != 0, Holds("Capability", "CAP_SYS_ADMIN"));
        Assert.Equal((bounding & (1UL << 12)) == 0, Holds("Capability", "!CAP_NET_ADMIN"));
    }

    [Fact]
    public void Virtualization_agrees_with_systemd_detect_virt()
    {
        if (!File.Exists("/usr/bin/systemd-detect-virt")) Assert.Skip("systemd-detect-virt is not installed");
        string Detect(params string[] args)
        {
            var psi = new ProcessStartInfo("/usr/bin/systemd-detect-virt") { RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return o;
        }
        var container = Detect("--container");
        bool inContainer = container != "none";
        Assert.Equal(inContainer, Holds("Virtualization", "container"));
        if (inContainer) Assert.True(Holds("Virtualization", container), $"systemd-detect-virt says {container}");
        Assert.Equal(inContainer || Detect("--vm") != "none", Holds("Virtualization", "yes"));
        Assert.False(Holds("Virtualization", "bhyve") && Detect("--vm") != "bhyve");
    }

    [Fact]
    public void Conditions_are_combined_and_asserts_checked_only_when_the_conditions_hold()
    {
        var unit = new UnitDefinition
        {
            Name = "u", Kind = UnitKind.Service, Sources = new(["/x"]),
            Unit = new UnitSection
            {
                Conditions = new([
                    UnitCondition.Parse("PathExists", false, "|" + _dir),
                    UnitCondition.Parse("PathExists", false, "|" + P("nothing")),
                    UnitCondition.Parse("PathExists", true, P("nothing")),
                ]),
            },
        };
        var (conditions, asserts) = _checker.Check(unit);
        Assert.True(conditions.Met);
        Assert.False(asserts.Met);
        Assert.Equal($"AssertPathExists={P("nothing")} was not met", asserts.Describe());
    }
}
