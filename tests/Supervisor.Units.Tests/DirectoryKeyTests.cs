using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>
/// RuntimeDirectory and its kin, their modes, RuntimeDirectoryPreserve, LoadCredential and
/// SetCredential: systemd's spelling accepted, anything it refuses (or we do not carry) refused
/// with file:line:col, the unit and the key.
/// </summary>
public class DirectoryKeyTests
{
    private static ServiceSection Service(string keys) => Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\n" + keys + "\n").Service;

    private static string Error(string keys) => Parse.SingleError("[Service]\nExecStart = [\"/bin/true\"]\n" + keys + "\n").ToString();

    [Fact]
    public void Entries_are_relative_paths_below_their_roots_with_subdirectories_and_systemds_simplification()
    {
        var s = Service("RuntimeDirectory = [\"redis\", \"foo/bar\", \"./a//b/\"]\nStateDirectory = [\"aaa/bbb\", \"ccc\"]\nConfigurationDirectory = [\"x\"]");
        Assert.Equal(["redis", "foo/bar", "a/b"], s.RuntimeDirectory);
        Assert.Equal(
            ["/run/redis", "/run/foo/bar", "/run/a/b", "/var/lib/aaa/bbb", "/var/lib/ccc", "/etc/x"],
            s.ManagedDirectories().Select(d => d.Path));
        Assert.All(s.ManagedDirectories(), d => Assert.Equal(0x1EDu, d.Mode));
    }

    [Theory]
    [InlineData("RuntimeDirectory = [\"/run/redis\"]", "svc.toml:3:20: svc: [Service] RuntimeDirectory: \"/run/redis\" is an absolute path; the entry is relative to the directory's root (/run, /var/lib, /var/cache, /var/log or /etc), e.g. \"run/redis\"")]
    [InlineData("StateDirectory = [\"a/../../etc\"]", "svc.toml:3:18: svc: [Service] StateDirectory: \"a/../../etc\" contains \"..\"; an entry must stay below its root")]
    [InlineData("LogsDirectory = [\"..\"]", "svc.toml:3:17: svc: [Service] LogsDirectory: \"..\" contains \"..\"; an entry must stay below its root")]
    [InlineData("CacheDirectory = [\"./\"]", "svc.toml:3:18: svc: [Service] CacheDirectory: \"./\" names no directory")]
    [InlineData("RuntimeDirectory = [\"foo:bar\"]", "svc.toml:3:20: svc: [Service] RuntimeDirectory: \"foo:bar\": systemd's \"SOURCE:LINK\" form (a symlink to the directory) is not supported; create the link with an ExecStartPre")]
    [InlineData("RuntimeDirectory = \"redis\"", "svc.toml:3:20: svc: [Service] RuntimeDirectory: expected an array of relative paths, got \"redis\"")]
    public void An_absolute_path_dotdot_or_no_name_is_refused_where_it_is_written(string keys, string message) =>
        Assert.Equal(message, Error(keys));

    [Theory]
    [InlineData("\"2755\"", 0x5EDu)]
    [InlineData("\"0700\"", 0x1C0u)]
    [InlineData("\"750\"", 0x1E8u)]
    [InlineData("0o755", 0x1EDu)]
    public void Modes_are_octal_as_systemds_parse_mode(string value, uint mode) =>
        Assert.Equal(mode, Service($"RuntimeDirectoryMode = {value}").RuntimeDirectoryMode);

    [Theory]
    [InlineData("StateDirectoryMode = \"0999\"", "svc.toml:3:22: svc: [Service] StateDirectoryMode: expected an octal mode in a string, like \"0755\" (digits 0–7), got \"0999\"")]
    [InlineData("LogsDirectoryMode = \"17777\"", "svc.toml:3:21: svc: [Service] LogsDirectoryMode: \"17777\" sets bits above 07777; a mode holds only the permission, setuid, setgid and sticky bits")]
    [InlineData("CacheDirectoryMode = \"rwx\"", "svc.toml:3:22: svc: [Service] CacheDirectoryMode: expected an octal mode in a string, like \"0755\" (digits 0–7), got \"rwx\"")]
    public void A_mode_that_is_not_octal_is_refused(string keys, string message) => Assert.Equal(message, Error(keys));

    [Fact]
    public void RuntimeDirectoryPreserve_takes_systemds_boolean_or_restart()
    {
        Assert.Equal(RuntimeDirectoryPreserve.No, Service("").RuntimeDirectoryPreserve);
        Assert.Equal(RuntimeDirectoryPreserve.Yes, Service("RuntimeDirectoryPreserve = \"yes\"").RuntimeDirectoryPreserve);
        Assert.Equal(RuntimeDirectoryPreserve.Restart, Service("RuntimeDirectoryPreserve = \"restart\"").RuntimeDirectoryPreserve);
        Assert.Equal(RuntimeDirectoryPreserve.No, Service("RuntimeDirectoryPreserve = false").RuntimeDirectoryPreserve);
    }

    [Fact]
    public void Credentials_are_ID_colon_PATH_and_ID_colon_VALUE_with_systemds_C_escapes()
    {
        var s = Service("LoadCredential = [\"tls:/etc/ssl/key.pem\"]\nSetCredential = [\"a:x\\\\ny\\\\x00z\\\\101\", \"b:with:colons\"]");
        Assert.Equal(new CredentialSource("tls", "/etc/ssl/key.pem"), s.LoadCredential.Single());
        Assert.Equal("x\ny\0zA"u8.ToArray(), s.SetCredential[0].Data);
        Assert.Equal("with:colons"u8.ToArray(), s.SetCredential[1].Data);
        Assert.True(s.HasCredentials);
    }

    [Fact]
    public void A_bare_ID_or_a_name_is_looked_up_in_the_credential_stores_and_prints_back_as_written()
    {
        var s = Service("LoadCredential = [\"tmpfiles.extra\", \"tls:server.pem\"]");
        Assert.Equal(new CredentialSource("tmpfiles.extra", "tmpfiles.extra"), s.LoadCredential[0]);
        Assert.True(s.LoadCredential[0].Searched);
        Assert.Equal("tmpfiles.extra", s.LoadCredential[0].ToString());
        Assert.Equal(new CredentialSource("tls", "server.pem"), s.LoadCredential[1]);
        Assert.Equal("tls:server.pem", s.LoadCredential[1].ToString());
        Assert.False(new CredentialSource("tls", "/etc/ssl/key.pem").Searched);
        Assert.Equal(["/run/credentials/supervisor.service", "/etc/credstore", "/run/credstore", "/usr/lib/credstore"],
            CredentialSource.SearchPath("/run/credentials/supervisor.service"));
        Assert.Equal(["/etc/credstore", "/run/credstore", "/usr/lib/credstore"], CredentialSource.SearchPath(null));
    }

    [Theory]
    [InlineData("LoadCredential = [\"tls:certs/key.pem\"]", "svc.toml:3:18: svc: [Service] LoadCredential: \"tls:certs/key.pem\": \"certs/key.pem\" is neither an absolute path nor a credential name to look up in the credential stores (a file name: not empty, no \"/\", not \".\" or \"..\"); give the absolute path of the file")]
    [InlineData("LoadCredential = [\"a/b:/etc/x\"]", "svc.toml:3:18: svc: [Service] LoadCredential: \"a/b:/etc/x\": the credential ID \"a/b\" must be a file name (not empty, no \"/\", not \".\" or \"..\", at most 255 bytes)")]
    [InlineData("SetCredential = [\"..:x\"]", "svc.toml:3:17: svc: [Service] SetCredential: \"..:x\": the credential ID \"..\" must be a file name (not empty, no \"/\", not \".\" or \"..\", at most 255 bytes)")]
    [InlineData("SetCredential = [\"a:\\\\q\"]", "svc.toml:3:17: svc: [Service] SetCredential: credential \"a\": unknown escape \"\\q\"")]
    [InlineData("SetCredential = [\"a:\\\\x4\"]", "svc.toml:3:17: svc: [Service] SetCredential: credential \"a\": \\x takes two hex digits")]
    public void A_credential_we_cannot_carry_is_refused_with_the_reason(string keys, string message) => Assert.Equal(message, Error(keys));
}
