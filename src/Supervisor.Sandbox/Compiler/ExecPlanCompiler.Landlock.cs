using System.Collections.Immutable;
using Supervisor.Units.Model;
using static Supervisor.Sandbox.LandlockAccess;

namespace Supervisor.Sandbox.Compiler;

/// <summary>What a unit's Landlock keys need that this kernel lacks: the key, and why.</summary>
public sealed record LandlockShortfall(string Key, string Reason);

/// <summary>
/// The Landlock keys into a <see cref="LandlockRuleset"/> for this kernel's ABI. Handled rights are
/// every right the ABI knows (so nothing new slips through as the kernel grows rights, and nothing
/// the kernel would refuse with EINVAL is asked for); a read-only path allows READ_FILE|READ_DIR, an
/// execute path EXECUTE|READ_FILE|READ_DIR, a read-write path every handled right. What the kernel
/// lacks (no Landlock; ports below ABI 4; scopes below ABI 6) fails closed unless the unit says
/// LandlockCompatibility = "best-effort": then it is left out and listed in <see cref="LandlockRuleset.Skipped"/>.
/// </summary>
public static partial class ExecPlanCompiler
{
    /// <summary>The ruleset for <paramref name="sandbox"/> on a kernel of <paramref name="host"/>'s ABI, and what that kernel cannot enforce.</summary>
    public static (LandlockRuleset? Ruleset, ImmutableArray<LandlockShortfall> Lacking) Landlock(SandboxSection sandbox, HostFacts host)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        ArgumentNullException.ThrowIfNull(host);
        if (!sandbox.HasLandlock) return (null, []);
        int abi = host.LandlockAbi;
        var lacking = Shortfalls(sandbox, host).ToImmutableArray();
        if (abi < 1) return (null, lacking);
        bool net = sandbox.HasLandlockNetwork && abi >= NetworkAbi;
        bool scope = sandbox.LandlockScope.Count > 0 && abi >= ScopeAbi;
        if (!sandbox.HasLandlockFilesystem && !net && !scope) return (null, lacking);
        ulong fs = sandbox.HasLandlockFilesystem ? FilesystemRights(abi) : 0;
        var ruleset = new LandlockRuleset(
            fs,
            net ? (sandbox.LandlockBindPorts is null ? 0 : BindTcp) | (sandbox.LandlockConnectPorts is null ? 0 : ConnectTcp) : 0,
            scope ? ScopeBits(sandbox.LandlockScope) : 0)
        {
            Paths = fs == 0 ? [] : PathRules(sandbox, fs),
            Ports = net ? PortRules(sandbox) : [],
            Abi = abi,
            Skipped = [.. lacking.Select(l => $"{l.Key}: {l.Reason}")],
        };
        return (ruleset, lacking);
    }

    private static IEnumerable<LandlockShortfall> Shortfalls(SandboxSection x, HostFacts host)
    {
        int abi = host.LandlockAbi;
        if (abi < 1)
        {
            yield return new(x.FirstLandlockKey!, host.LandlockUnavailable);
            yield break;
        }
        if (x.HasLandlockNetwork && abi < NetworkAbi)
            yield return new(x.LandlockBindPorts is not null ? "LandlockBindPorts" : "LandlockConnectPorts",
                $"TCP port rules need Landlock ABI {NetworkAbi} (Linux 6.7); this kernel has ABI {abi}");
        if (x.LandlockScope.Count > 0 && abi < ScopeAbi)
            yield return new("LandlockScope", $"scopes need Landlock ABI {ScopeAbi} (Linux 6.12); this kernel has ABI {abi}");
    }

    private static ImmutableArray<LandlockPathRule> PathRules(SandboxSection x, ulong all) =>
    [
        .. x.LandlockReadOnlyPaths.Select(p => new LandlockPathRule(p.Path, ReadFile | ReadDir, p.IgnoreIfMissing)),
        .. x.LandlockExecutePaths.Select(p => new LandlockPathRule(p.Path, Execute | ReadFile | ReadDir, p.IgnoreIfMissing)),
        .. x.LandlockReadWritePaths.Select(p => new LandlockPathRule(p.Path, all, p.IgnoreIfMissing)),
    ];

    /// <summary>One rule per port, with both rights when a port is in both lists.</summary>
    private static ImmutableArray<LandlockPortRule> PortRules(SandboxSection x)
    {
        var rights = new SortedDictionary<int, ulong>();
        foreach (var p in x.LandlockBindPorts ?? ValueList<int>.Empty)
            rights[p] = rights.GetValueOrDefault(p) | BindTcp;
        foreach (var p in x.LandlockConnectPorts ?? ValueList<int>.Empty)
            rights[p] = rights.GetValueOrDefault(p) | ConnectTcp;
        return [.. rights.Select(kv => new LandlockPortRule(kv.Key, kv.Value))];
    }

    private static ulong ScopeBits(ValueList<LandlockScope> scopes) =>
        scopes.Aggregate(0UL, (bits, s) => bits | (s == Units.Model.LandlockScope.Signal ? ScopeSignal : ScopeAbstractUnixSocket));

    private sealed partial class Compilation
    {
        /// <summary>The unit's ruleset; a shortfall fails the start unless the unit accepts best effort.</summary>
        private LandlockRuleset? LandlockRules()
        {
            var (ruleset, lacking) = ExecPlanCompiler.Landlock(_sbx, ctx.Host);
            if (lacking.Length > 0 && _sbx.LandlockCompatibility == LandlockCompatibility.Required)
                throw Error(lacking[0].Key, $"{lacking[0].Reason}; the unit is not started without it (LandlockCompatibility = \"best-effort\" would skip what the kernel lacks)");
            return ruleset;
        }
    }
}
