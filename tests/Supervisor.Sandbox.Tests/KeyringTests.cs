using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// Issue #13: a key in the session keyring the supervisor was started from must not reach a
/// service (systemd's KeyringMode=private). Each test first shows the key IS reachable with the
/// supervisor's keyring inherited, so it cannot pass because the probe simply fails.
/// </summary>
public class KeyringTests
{
    private const int ENOKEY = 126;

    private static ExecPlan Compile(string sandbox, string service)
    {
        using var dir = new TempDir("/run");
        File.WriteAllText(dir.Combine("svc.toml"), $$"""
            [Service]
            ExecStart = ["{{Probe.Path}}", "key"]
            {{service}}

            [Sandbox]
            {{sandbox}}
            """);
        var set = UnitLoader.LoadDirectory(dir.Path);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return ExecPlanCompiler.Compile(set.Units["svc"].Definition, CompileContext.ForHost());
    }

    private const string Strict = """
        Namespaces = ["pid", "net", "mount", "ipc", "uts"]
        CapabilityBoundingSet = []
        NoNewPrivileges = true
        SystemCallFilter = ["@system-service"]
        ProtectSystem = "strict"
        ProtectHome = true
        PrivateTmp = true
        PrivateDevices = true
        ProtectKernelTunables = true
        ProtectControlGroups = true
        """;

    /// <summary>What the probe says when looking for KEY of TYPE from the service started with PLAN.</summary>
    private static string Look(ExecPlan plan, string type, string key, string secret) =>
        Keyrings.InSessionWithKey(secret, () => Runner.Run(plan with { Argv = ["probe", "key", type, key] }).Line);

    [Theory]
    [InlineData("User = \"nobody\"\nGroup = \"nogroup\"", Strict)]
    [InlineData("", "")]
    [InlineData("", "Namespaces = [\"user\", \"pid\"]")]
    public void A_key_in_the_supervisors_session_keyring_does_not_reach_the_service(string service, string sandbox)
    {
        Host.RequireRoot();
        Keyrings.Require();
        var plan = Compile(sandbox, service);
        Assert.Equal(KeyringMode.Private, plan.Keyring);
        var secret = "sbx-secret-" + Guid.NewGuid().ToString("N")[..8];

        Assert.Equal("ok", Look(plan with { Keyring = KeyringMode.Inherit }, "user", secret, secret));
        Assert.Equal($"fail {ENOKEY}", Look(plan, "user", secret, secret));
    }

    [Fact]
    public void Shared_mode_links_the_service_users_keyring_into_its_new_session_keyring()
    {
        Host.RequireRoot();
        Keyrings.Require();
        var plan = Compile(Strict, "User = \"nobody\"\nGroup = \"nogroup\"");
        uint uid = plan.Identity!.Uid;
        var secret = "sbx-secret-" + Guid.NewGuid().ToString("N")[..8];

        Assert.Equal("ok", Look(plan with { Keyring = KeyringMode.Shared }, "keyring", $"_uid.{uid}", secret));
        Assert.Equal($"fail {ENOKEY}", Look(plan with { Keyring = KeyringMode.Shared }, "user", secret, secret));
        Assert.Equal($"fail {ENOKEY}", Look(plan, "keyring", $"_uid.{uid}", secret));
    }

    [Fact]
    public void A_user_whose_key_quota_is_used_up_still_gets_a_new_session_keyring()
    {
        Host.RequireRoot();
        Keyrings.Require();
        // A uid no account uses, so its quota (kernel.keys.maxkeys) is ours to fill.
        uint uid = 3_900_000 + (uint)Random.Shared.Next(10_000);
        var plan = Probe.Plan() with { Identity = new Identity(uid, uid, []), Capabilities = Sandboxes.None, Keyring = KeyringMode.Private };
        using var full = new Runner.Running(plan, "fillkeys");
        var secret = "sbx-secret-" + Guid.NewGuid().ToString("N")[..8];

        // The quota is full: a keyring made as this uid would be refused (EDQUOT); the helper makes it as root.
        Assert.Equal($"fail {ENOKEY}", Look(plan, "user", secret, secret));
        Assert.Equal("ok", Look(plan with { Keyring = KeyringMode.Inherit }, "user", secret, secret));
    }
}
