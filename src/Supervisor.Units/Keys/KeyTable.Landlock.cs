using Supervisor.Units.Model;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Sandbox] Landlock keys (Supervisor's names; systemd has none): filesystem and TCP port rules
    /// the helper applies to the service just before seccomp. The ruleset is built before execve,
    /// so every change needs a new process.
    /// </summary>
    private static IEnumerable<KeySpec> LandlockKeys()
    {
        var ports = new Nullable<ValueList<int>>(V.ListOf(V.Int(1, 65535), "array of TCP port numbers 1–65535"));
        var scope = V.ListOf(V.Enum(("abstract-unix-socket", Model.LandlockScope.AbstractUnixSocket), ("signal", Model.LandlockScope.Signal)),
            "array of \"abstract-unix-socket\" \"signal\"");
        var compatibility = V.Enum(("required", LandlockCompatibility.Required), ("best-effort", LandlockCompatibility.BestEffort));
        return
        [
            X("LandlockReadOnlyPaths", Restart, V.OptionalPathList, x => x.LandlockReadOnlyPaths, (x, v) => x with { LandlockReadOnlyPaths = v }, "[]",
                "Landlock: files below these paths may be read and directories listed; any Landlock path key turns the filesystem ruleset on, and everything below no listed path is refused with EACCES (\"-\" prefix: skipped when missing)", MergeRule.List),
            X("LandlockReadWritePaths", Restart, V.OptionalPathList, x => x.LandlockReadWritePaths, (x, v) => x with { LandlockReadWritePaths = v }, "[]",
                "Landlock: below these paths every filesystem right the kernel's Landlock ABI knows (read, write, create, remove, rename across directories, truncate, device ioctls)", MergeRule.List),
            X("LandlockExecutePaths", Restart, V.OptionalPathList, x => x.LandlockExecutePaths, (x, v) => x with { LandlockExecutePaths = v }, "[]",
                "Landlock: programs below these paths may be executed (and read); the service's own program and its ELF interpreter must be below one", MergeRule.List),
            X("LandlockBindPorts", Restart, ports, x => x.LandlockBindPorts, (x, v) => x with { LandlockBindPorts = v }, "not set",
                "Landlock: the only TCP ports the service may bind (an empty list: none); others fail with EACCES (Landlock ABI 4, Linux 6.7)", MergeRule.List),
            X("LandlockConnectPorts", Restart, ports, x => x.LandlockConnectPorts, (x, v) => x with { LandlockConnectPorts = v }, "not set",
                "Landlock: the only TCP ports the service may connect to (an empty list: none); others fail with EACCES (Landlock ABI 4, Linux 6.7)", MergeRule.List),
            X("LandlockScope", Restart, scope, x => x.LandlockScope, (x, v) => x with { LandlockScope = v }, "[]",
                "Landlock: \"abstract-unix-socket\": no connecting to abstract unix sockets made outside the service's Landlock domain; \"signal\": no signals to processes outside it (Landlock ABI 6, Linux 6.12)", MergeRule.List),
            X("LandlockCompatibility", Restart, compatibility, x => x.LandlockCompatibility, (x, v) => x with { LandlockCompatibility = v }, "\"required\"",
                "\"required\": a unit whose Landlock keys the kernel cannot enforce (no Landlock, or an ABI too old for ports or scopes) is bad-setting; \"best-effort\": what the kernel lacks is skipped with a warning"),
        ];
    }

    /// <summary>
    /// Rules between the Landlock keys, called from the parser's consistency check: the plan holds
    /// at most <see cref="Limits.PlanMaxLandlockRules"/> rules, and a lone LandlockCompatibility says nothing.
    /// </summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> LandlockConsistency(UnitDefinition unit)
    {
        var x = unit.Sandbox;
        if (x.LandlockRuleCount > Limits.PlanMaxLandlockRules)
            yield return (SandboxSection, x.FirstLandlockKey!, $"[Sandbox] Landlock: {x.LandlockRuleCount} paths and ports together; a unit has at most {Limits.PlanMaxLandlockRules} Landlock rules", true, null);
        if (x.LandlockCompatibility != LandlockCompatibility.Required && !x.HasLandlock)
            yield return (SandboxSection, "LandlockCompatibility", "[Sandbox] LandlockCompatibility has no effect without a Landlock path, port or scope key", false, null);
    }
}
