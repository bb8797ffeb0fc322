using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

public class OciProfileTests
{
    // The schema features Docker's default profile uses, in one small profile.
    private const string Profile = """
    {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "archMap": [ { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
                   { "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"] } ],
      "syscalls": [
        { "names": ["read", "write", "cacheflush"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } },
        { "names": ["kexec_load"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "99.0" } },
        { "names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 40, "op": "SCMP_CMP_NE" } ] },
        { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }, { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" } ] },
        { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64", "x32"] } },
        { "names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["arm", "arm64"] } },
        { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
        { "names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ" } ],
          "excludes": { "caps": ["CAP_SYS_ADMIN"] } },
        { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": { "caps": ["CAP_SYS_ADMIN"] } }
      ]
    }
    """;

    private static readonly Version Kernel = new(6, 18);

    private static SeccompFilterSpec Parse(ulong caps) => OciSeccompProfile.Parse(Profile, new OciProfileContext(caps, Kernel));

    [Fact]
    public void Rules_follow_capabilities_arches_and_kernel_version()
    {
        ulong sysAdmin = 1UL << CapabilityTable.Parse("CAP_SYS_ADMIN");
        var without = Parse(0);
        var with = Parse(sysAdmin);
        Assert.Equal(SeccompAction.Errno(1), without.DefaultAction);
        Assert.Contains(without.Rules, r => r.Syscall == "ptrace");
        Assert.DoesNotContain(without.Rules, r => r.Syscall == "kexec_load");
        Assert.Contains(without.Rules, r => r.Syscall == "arch_prctl");
        Assert.DoesNotContain(without.Rules, r => r.Syscall == "set_tls");
        Assert.DoesNotContain(without.Rules, r => r.Syscall == "mount");
        Assert.Contains(with.Rules, r => r.Syscall == "mount");
        Assert.Contains(without.Rules, r => r.Syscall == "clone" && r.Conditions.Single().Op == SeccompCompare.MaskedEqual);
        Assert.DoesNotContain(with.Rules, r => r.Syscall == "clone");
        Assert.Equal(SeccompAction.Errno(38), without.Rules.Single(r => r.Syscall == "clone3").Action);
        // Two conditions on argument 0 mean "either": two rules.
        Assert.Equal(2, without.Rules.Count(r => r.Syscall == "personality"));
        // archMap: on x86_64, i386 and x32 are added next to the native ABI.
        Assert.Equal(2, without.ExtraArchitectures.Count);
        // cacheflush exists only on other architectures and is skipped, as runc does.
        Assert.NotEmpty(SeccompCompiler.Compile(without));
        Assert.NotEqual(SeccompCompiler.Compile(without), SeccompCompiler.Compile(with));
    }

    [Theory]
    [InlineData("""{ "syscalls": [] }""", "defaultAction")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_NOPE" }""", "unknown action 'SCMP_ACT_NOPE'")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_NOTIFY" } ] }""", "SCMP_ACT_NOTIFY")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": { "caps": ["CAP_FLY"] } } ] }""", "unknown capability 'CAP_FLY'")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [ { "index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES" } ] } ] }""", "unknown argument operator")]
    [InlineData("""{ "defaultAction": """, "not valid JSON")]
    public void Bad_profiles_are_typed_errors_that_say_what_is_wrong(string json, string expected)
    {
        var e = Assert.Throws<SeccompCompileException>(() => OciSeccompProfile.Parse(json, new OciProfileContext(0, Kernel), "bad.json"));
        Assert.Contains(expected, e.Message);
    }

    private static string ShippedProfile => Path.Combine(Host.RepoRoot(), "contrib", "seccomp", "default.json");

    [Fact]
    public void The_shipped_default_profile_blocks_mount_unless_the_unit_keeps_CAP_SYS_ADMIN()
    {
        Host.RequireRoot();
        using var dir = new TempDir();
        var plan = Probe.Plan("mount", dir.Path) with { Namespaces = NamespaceFlags.Mount };
        Assert.True(Runner.Run(plan).Ok, "mount works without the profile, so the test can fail");
        ulong noSysAdmin = Sandboxes.AllCaps & ~(1UL << 21);
        var blocked = SeccompCompiler.Compile(OciSeccompProfile.Load(ShippedProfile, new OciProfileContext(noSysAdmin)));
        Assert.Equal("fail 1", Runner.Run(plan with { SeccompBpf = [.. blocked] }).Line);
        var allowed = SeccompCompiler.Compile(OciSeccompProfile.Load(ShippedProfile, new OciProfileContext(Sandboxes.AllCaps)));
        Assert.True(Runner.Run(plan with { SeccompBpf = [.. allowed] }).Ok);
        // Native only: an i386 call is killed.
        Assert.Equal(31, Runner.Run(Probe.Plan("int80") with { SeccompBpf = [.. blocked] }).Exit.Signal);
    }

    [Fact]
    public void Podmans_installed_profile_loads()
    {
        const string path = "/usr/share/containers/seccomp.json";
        if (!File.Exists(path))
            Assert.Skip($"{path} is not installed (Debian package golang-github-containers-common)");
        Assert.NotEmpty(SeccompCompiler.Compile(OciSeccompProfile.Load(path, new OciProfileContext(0))));
    }
}
