using Supervisor.Runtime.Planning;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;

namespace Supervisor.Runtime.Tests;

/// <summary>The load-time Landlock check: what the kernel cannot enforce is bad-setting at the key, or a warning with best effort.</summary>
public sealed class HostLandlockCheckTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private UnitSet Load()
    {
        _dir.Write("units/web.toml", "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nLandlockReadOnlyPaths = [\"/usr\"]\nLandlockBindPorts = [8080]\n");
        _dir.Write("units/lax.toml", "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nLandlockBindPorts = [8080]\nLandlockCompatibility = \"best-effort\"\n");
        _dir.Write("units/plain.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        return UnitLoader.LoadDirectory(Path.Combine(_dir.Dir, "units"), new LoadOptions { RequireRootOwnership = false });
    }

    private static HostFacts Abi(int abi) => new(40, ulong.MaxValue, false, false) { LandlockAbi = abi, LandlockUnavailable = "Landlock is not enabled on this kernel" };

    [Fact]
    public void Ports_on_an_abi_without_them_make_the_unit_bad_setting_with_the_reason_at_the_key()
    {
        var checkedSet = HostLandlockCheck.Apply(Load(), Abi(3));
        Assert.Contains("web", checkedSet.BadUnits.Keys);
        Assert.Contains("lax", checkedSet.Units.Keys);
        Assert.Contains("plain", checkedSet.Units.Keys);
        var error = Assert.Single(checkedSet.Diagnostics, d => d.Severity == Severity.Error);
        Assert.EndsWith("web.toml:5:21: web: [Sandbox] LandlockBindPorts cannot be enforced: TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI 3; " +
            "the unit is not started without it (LandlockCompatibility = \"best-effort\" would skip it)", error.ToString());
        var warning = Assert.Single(checkedSet.Diagnostics, d => d.Severity == Severity.Warning);
        Assert.Equal(("lax", "LandlockBindPorts"), (warning.Unit, warning.Key));
    }

    [Fact]
    public void Without_landlock_every_unit_asking_for_it_fails_closed_unless_best_effort()
    {
        var checkedSet = HostLandlockCheck.Apply(Load(), Abi(0));
        Assert.Contains("web", checkedSet.BadUnits.Keys);
        Assert.Contains("lax", checkedSet.Units.Keys);
        Assert.Contains(checkedSet.Diagnostics, d => d.Unit == "web" && d.Message.Contains("Landlock is not enabled on this kernel"));
    }

    [Fact]
    public void A_kernel_with_the_abi_says_nothing()
    {
        var checkedSet = HostLandlockCheck.Apply(Load(), Abi(7));
        Assert.Empty(checkedSet.BadUnits);
        Assert.Empty(checkedSet.Diagnostics);
    }
}
