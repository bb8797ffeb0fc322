using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>DynamicUser, UMask, KeyringMode and RemoveIPC: systemd's spelling accepted, anything else refused with file:line:col.</summary>
public class IdentityKeyTests
{
    private static UnitDefinition Sandbox(string keys, string service = "") =>
        Parse.Valid(Parse.MinimalService + service + "[Sandbox]\n" + keys + "\n");

    [Theory]
    [InlineData("\"0027\"", 0x17u)]
    [InlineData("\"027\"", 0x17u)]
    [InlineData("\"77\"", 0x3Fu)]
    [InlineData("\"0\"", 0u)]
    [InlineData("\"0777\"", 0x1FFu)]
    public void UMask_is_read_as_octal_as_systemd_reads_it(string value, uint mask) =>
        Assert.Equal(mask, Sandbox($"UMask = {value}").Sandbox.UMask);

    [Fact]
    public void UMask_defaults_to_systemds_0022() => Assert.Equal(0x12u, Parse.Valid(Parse.MinimalService).Sandbox.UMask);

    [Theory]
    [InlineData("\"0089\"", "svc.toml:4:9: svc: [Sandbox] UMask: expected an octal mask in a string, like \"0027\" (digits 0–7), got \"0089\"")]
    [InlineData("\"01777\"", "svc.toml:4:9: svc: [Sandbox] UMask: \"01777\" sets bits above 0777; a umask holds only the permission bits 0000–0777")]
    [InlineData("27", "svc.toml:4:9: svc: [Sandbox] UMask: expected an octal mask in a string, like \"0027\", got 27")]
    [InlineData("\"\"", "svc.toml:4:9: svc: [Sandbox] UMask: expected an octal mask in a string, like \"0027\" (digits 0–7), got \"\"")]
    public void A_umask_that_is_not_octal_is_refused_where_it_is_written(string value, string message) =>
        Assert.Equal(message, Parse.SingleError(Parse.MinimalService + $"[Sandbox]\nUMask = {value}\n").ToString());

    [Fact]
    public void KeyringMode_takes_systemds_three_values_and_suggests_the_nearest()
    {
        Assert.Equal(KeyringSetting.Private, Parse.Valid(Parse.MinimalService).Sandbox.KeyringMode);
        Assert.Equal(KeyringSetting.Inherit, Sandbox("KeyringMode = \"inherit\"").Sandbox.KeyringMode);
        Assert.Equal(KeyringSetting.Shared, Sandbox("KeyringMode = \"shared\"").Sandbox.KeyringMode);
        Assert.Equal("svc.toml:4:15: svc: [Sandbox] KeyringMode: expected one of \"inherit\", \"private\", \"shared\", got \"privat\"; did you mean 'private'?",
            Parse.SingleError(Parse.MinimalService + "[Sandbox]\nKeyringMode = \"privat\"\n").ToString());
    }

    [Fact]
    public void DynamicUser_implies_systemds_protections()
    {
        var x = Sandbox("DynamicUser = true").Sandbox;
        Assert.Equal((ProtectSystem.No, ProtectHome.No, false, false, false), (x.ProtectSystem, x.ProtectHome, x.PrivateTmp, x.RemoveIPC, x.NoNewPrivileges));
        var effective = x.WithImplications();
        Assert.Equal((ProtectSystem.Strict, ProtectHome.ReadOnly, true, true, true),
            (effective.ProtectSystem, effective.ProtectHome, effective.PrivateTmp, effective.RemoveIPC, effective.NoNewPrivileges));
        // A stronger ProtectHome stays; without DynamicUser nothing is implied.
        Assert.Equal(ProtectHome.Tmpfs, Sandbox("DynamicUser = true\nProtectHome = \"tmpfs\"").Sandbox.WithImplications().ProtectHome);
        Assert.Equal(ProtectHome.Yes, Sandbox("DynamicUser = true\nProtectHome = true").Sandbox.WithImplications().ProtectHome);
        var plain = Sandbox("PrivateTmp = false").Sandbox;
        Assert.Same(plain, plain.WithImplications());
    }

    [Fact]
    public void DynamicUser_with_a_User_that_is_no_user_name_is_refused_at_the_User_key() =>
        Assert.Equal("svc.toml:2:8: svc: [Service] User: with DynamicUser, \"1000\" must be a user name (letters, digits, '_' and '-', starting with a letter or '_', at most 31 characters)",
            Parse.SingleError("[Service]\nUser = \"1000\"\nExecStart = [\"/bin/true\"]\n[Sandbox]\nDynamicUser = true\n").ToString());

    [Fact]
    public void RemoveIPC_for_a_service_that_runs_as_root_is_a_warning()
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "[Sandbox]\nRemoveIPC = true\n");
        Assert.NotNull(unit);
        var d = Assert.Single(diagnostics);
        Assert.Equal(Severity.Warning, d.Severity);
        Assert.Equal("svc.toml:4:13: warning: svc: [Sandbox] RemoveIPC has no effect for a service that runs as root: the IPC objects of root are never removed", d.ToString());
        Assert.Empty(Parse.Service(Parse.MinimalService + "User = \"nobody\"\n[Sandbox]\nRemoveIPC = true\n").Diagnostics);
        Assert.Empty(Parse.Service(Parse.MinimalService + "[Sandbox]\nRemoveIPC = true\nDynamicUser = true\n").Diagnostics);
    }
}
