using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>The namespace keys under systemd's names and the filesystem view around them: values, spellings, contradictions, mount points.</summary>
public class NamespaceKeyTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\n";

    /// <summary>A directory no sandbox setting of these tests replaces, removed at dispose.</summary>
    private sealed class Dir : IDisposable
    {
        public string Path { get; } = Directory.CreateDirectory(System.IO.Path.Combine("/run", "ns-keys-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("\"yes\"", true)]
    [InlineData("\"no\"", false)]
    [InlineData("\"on\"", true)]
    [InlineData("\"off\"", false)]
    [InlineData("\"1\"", true)]
    [InlineData("\"0\"", false)]
    public void Private_keys_take_TOML_booleans_and_systemds_spellings(string value, bool expected)
    {
        var x = Parse.Valid(Svc + $"PrivateNetwork = {value}\nPrivateIPC = {value}\nPrivateMounts = {value}\nPrivatePIDs = {value}\nPrivateUsers = {value}\n").Sandbox;
        Assert.Equal([expected, expected, expected, expected, expected], new[] { x.PrivateNetwork, x.PrivateIPC, x.PrivateMounts, x.PrivatePIDs, x.PrivateUsers });
    }

    [Fact]
    public void A_misspelt_boolean_is_located_and_gets_a_suggestion() =>
        Assert.Equal("svc.toml:4:18: svc: [Sandbox] PrivateNetwork: expected true or false (or systemd's \"yes\"/\"no\"), got \"yess\"; did you mean 'yes'?",
            Parse.SingleError(Svc + "PrivateNetwork = \"yess\"\n").ToString());

    [Fact]
    public void A_misspelt_key_gets_a_suggestion() =>
        Assert.Equal("svc.toml:4:1: svc: unknown key 'PrivateNetwrok' in [Sandbox]; did you mean 'PrivateNetwork'?",
            Parse.SingleError(Svc + "PrivateNetwrok = true\n").ToString());

    [Fact]
    public void The_Private_keys_and_Namespaces_name_the_same_namespaces()
    {
        var x = Parse.Valid(Svc + "PrivatePIDs = true\nPrivateNetwork = true\nNamespaces = [\"net\", \"uts\"]\n").Sandbox;
        Assert.Equal(Namespaces.Pid | Namespaces.Net | Namespaces.Uts, x.EffectiveNamespaces);
        Assert.Equal(Namespaces.Net | Namespaces.Uts, x.Namespaces);
    }

    [Fact]
    public void PrivateNetwork_with_NetworkNamespacePath_is_refused_at_PrivateNetwork()
    {
        var d = Parse.SingleError(Svc + "NetworkNamespacePath = \"/run/netns/pod\"\nPrivateNetwork = true\n");
        Assert.Equal(("svc.toml", 5, 18, "PrivateNetwork"), (d.Location.Path, d.Location.Line, d.Location.Column, d.Key));
        Assert.Contains("cannot be combined with NetworkNamespacePath", d.Message);
    }

    [Fact]
    public void PrivateUsers_with_the_shifted_user_namespace_is_refused_because_the_mappings_differ()
    {
        var d = Parse.SingleError(Svc + "Namespaces = [\"user\"]\nPrivateUsers = \"yes\"\n");
        Assert.Equal(("PrivateUsers", 5), (d.Key, d.Location.Line));
        Assert.Contains("a unit has one user namespace", d.Message);
        Parse.Valid(Svc + "Namespaces = [\"user\"]\nPrivateUsers = false\n");
    }

    [Fact]
    public void A_path_in_both_NoExecPaths_and_ExecPaths_is_refused()
    {
        var d = Parse.SingleError(Svc + "NoExecPaths = [\"/usr\"]\nExecPaths = [\"/usr\"]\n");
        Assert.Equal(("ExecPaths", 5), (d.Key, d.Location.Line));
        Assert.Contains("'/usr' is also in NoExecPaths", d.Message);
        var x = Parse.Valid(Svc + "NoExecPaths = [\"/\"]\nExecPaths = [\"/usr/bin\", \"-/nonexistent\"]\n").Sandbox;
        Assert.Equal(["/usr/bin", "/nonexistent"], x.ExecPaths.Select(p => p.Path));
        Assert.True(x.ExecPaths[1].IgnoreIfMissing);
        Assert.Equal("[Sandbox] NoExecPaths: '/nonexistent-sbx' does not exist; prefix it with \"-\" to skip it when missing",
            Parse.SingleError(Svc + "NoExecPaths = [\"/nonexistent-sbx\"]\n").Text);
    }

    [Theory]
    [InlineData("\"/var:rox\"", "unknown mount option \"rox\"; expected one of ro, rw, noexec, exec, nosuid, nodev, mode=, size=, nr_inodes=, uid=, gid=; did you mean 'ro'?")]
    [InlineData("\"/var:suid\"", "option \"suid\" is not available: a TemporaryFileSystem is always nosuid and nodev")]
    [InlineData("\"/var:mode=999\"", "mode=\"999\": expected an octal mode like 0755")]
    [InlineData("\"/var:size=lots\"", "size=\"lots\": expected a size like 64M or a share of memory like 10%")]
    [InlineData("\"/var:ro,,noexec\"", "empty mount option; options are separated by single commas, e.g. \"/var:ro,mode=0700\"")]
    [InlineData("\"var:ro\"", "expected \"path[:options]\" with an absolute path, e.g. \"/var:ro\", got \"var:ro\"")]
    [InlineData("\"/var:sise=1M\"", "unknown mount option \"sise=\"; expected one of mode=, size=, nr_inodes=, uid=, gid=; did you mean 'size'?")]
    public void TemporaryFileSystem_options_are_checked_one_by_one(string value, string message) =>
        Assert.Equal($"svc.toml:4:23: svc: [Sandbox] TemporaryFileSystem: {message}",
            Parse.SingleError(Svc + $"TemporaryFileSystem = [{value}]\n").ToString());

    [Fact]
    public void TemporaryFileSystem_reads_systemds_path_and_options()
    {
        var t = Parse.Valid(Svc + "TemporaryFileSystem = [\"/var:ro,mode=0700,size=10%,noexec\", \"/srv\"]\n").Sandbox.TemporaryFileSystem;
        Assert.Equal(("/var", true, true, 0x1C0u, "size=10%"), (t[0].Path, t[0].ReadOnly, t[0].NoExec, t[0].Mode, t[0].Data));
        Assert.Equal(("/srv", false, false, 0x1EDu, ""), (t[1].Path, t[1].ReadOnly, t[1].NoExec, t[1].Mode, t[1].Data));
        Assert.Equal("/var:ro,mode=0700,size=10%,noexec", t[0].ToString());
    }

    [Fact]
    public void TemporaryFileSystem_must_exist_unless_an_earlier_one_holds_it()
    {
        var d = Parse.SingleError(Svc + "TemporaryFileSystem = [\"/nonexistent-sbx-dir\"]\n");
        Assert.Equal("TemporaryFileSystem", d.Key);
        Assert.Contains("'/nonexistent-sbx-dir' does not exist, so there is nothing to mount the tmpfs on", d.Message);
        // Inside another one it is created, in whatever order they are written.
        Parse.Valid(Svc + "TemporaryFileSystem = [\"/var/lib/sbx-new\", \"/var\"]\n");
        Assert.Contains("is listed 2 times", Parse.SingleError(Svc + "TemporaryFileSystem = [\"/var\", \"/var:ro\"]\n").Message);
    }

    [Fact]
    public void A_path_inside_a_fresh_tmpfs_of_the_sandbox_is_refused_unless_marked_optional()
    {
        var d = Parse.SingleError(Svc + "TemporaryFileSystem = [\"/var\"]\nReadOnlyPaths = [\"/var/lib\"]\n");
        Assert.Equal(("ReadOnlyPaths", 5), (d.Key, d.Location.Line));
        Assert.Equal("[Sandbox] ReadOnlyPaths: '/var/lib' is under '/var', which the sandbox replaces with an empty tmpfs (TemporaryFileSystem); " +
            "prefix it with \"-\" to skip it, or bind what it needs there with BindPaths", d.Text);
        Assert.Contains("(PrivateTmp)", Parse.SingleError(Svc + "PrivateTmp = true\nNoExecPaths = [\"/tmp/x\"]\n").Message);
        Parse.Valid(Svc + "PrivateTmp = true\nReadWritePaths = [\"-/tmp/x\"]\n");
    }

    [Fact]
    public void A_bind_mount_point_is_made_inside_a_fresh_tmpfs_or_an_existing_directory_and_nowhere_else()
    {
        using var dir = new Dir();
        Parse.Valid(Svc + $"PrivateTmp = true\nBindReadOnlyPaths = [\"{dir.Path}:/tmp/a/b\", \"/etc/hostname:/var/tmp/h\"]\n");
        Parse.Valid(Svc + $"TemporaryFileSystem = [\"/srv\"]\nBindPaths = [\"{dir.Path}:/srv/new/data\"]\n");
        // Debian's haproxy: /var/lib/haproxy/dev ships empty, and the bind makes dev/log in it.
        Parse.Valid(Svc + $"BindReadOnlyPaths = [\"/etc/hostname:{dir.Path}/log\"]\n");
        var d = Parse.SingleError(Svc + $"BindReadOnlyPaths = [\"{dir.Path}:/nonexistent-sbx/data\"]\n");
        Assert.Equal(("BindReadOnlyPaths", 4, 21), (d.Key, d.Location.Line, d.Location.Column));
        Assert.Equal("[Sandbox] BindReadOnlyPaths: the mount point '/nonexistent-sbx/data' does not exist, nor does its directory '/nonexistent-sbx'; " +
            "a mount point is made only inside an existing directory, or anywhere inside a fresh filesystem of the sandbox (PrivateTmp, TemporaryFileSystem, PrivateDevices, ProtectHome=\"tmpfs\"); " +
            "create the directory first, or bind into a TemporaryFileSystem", d.Text);
    }

    [Fact]
    public void A_missing_bind_source_is_a_warning_since_it_may_appear_before_the_start()
    {
        var (unit, diagnostics) = Parse.Service(Svc + "BindPaths = [\"/nonexistent-sbx-src:/srv\"]\n");
        Assert.NotNull(unit);
        var w = Assert.Single(diagnostics);
        Assert.Equal(Severity.Warning, w.Severity);
        Assert.Equal("svc.toml:4:13: warning: svc: [Sandbox] BindPaths: the source '/nonexistent-sbx-src' does not exist on this host; the unit cannot start until it does (prefix the entry with \"-\" to skip it when missing)", w.ToString());
        Assert.Empty(Parse.Service(Svc + "BindPaths = [\"-/nonexistent-sbx-src:/nonexistent-sbx-dst\"]\n").Diagnostics);
    }

    [Fact]
    public void Under_a_RootDirectory_the_mount_point_is_looked_for_inside_it()
    {
        using var root = new Dir();
        Directory.CreateDirectory(Path.Combine(root.Path, "data"));
        Parse.Valid(Svc + $"RootDirectory = \"{root.Path}\"\nBindPaths = [\"/etc:/data\"]\n");
        Parse.Valid(Svc + $"RootDirectory = \"{root.Path}\"\nBindPaths = [\"/etc:/srv\"]\n"); // made in the root's own /
        var d = Parse.SingleError(Svc + $"RootDirectory = \"{root.Path}\"\nBindPaths = [\"/etc:/srv/etc\"]\n");
        Assert.Contains($"the mount point '/srv/etc' does not exist in RootDirectory '{root.Path}', nor does its directory '/srv'", d.Message);
    }
}
