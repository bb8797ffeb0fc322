using System.Runtime.InteropServices;
using System.Text.Json;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Linux.Native;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>What an OCI profile's conditional rules are evaluated against.</summary>
/// <param name="Capabilities">The service's capabilities (its bounding set), for includes/excludes.caps.</param>
/// <param name="KernelVersion">For includes.minKernel; null reads the running kernel's.</param>
public sealed record OciProfileContext(ulong Capabilities, Version? KernelVersion = null);

/// <summary>
/// Reads an OCI / Docker seccomp profile (SeccompProfile = "path.json"): defaultAction,
/// defaultErrnoRet, architectures or archMap, and syscalls[{names, action, errnoRet, args,
/// includes{caps, arches, minKernel}, excludes{caps, arches}}]. Like runc, names this
/// architecture does not have are skipped (profiles list every architecture's calls), and
/// conditions on the same argument index become separate rules (libseccomp allows one
/// comparison per argument in a rule, and Docker means "any of them").
/// </summary>
public static class OciSeccompProfile
{
    public static SeccompFilterSpec Load(string path, OciProfileContext context)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SeccompCompileException($"cannot read seccomp profile '{path}': {e.Message}", e);
        }
        return Parse(json, context, path);
    }

    public static SeccompFilterSpec Parse(string json, OciProfileContext context, string source = "profile")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new SeccompCompileException($"seccomp profile '{source}' is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            int? defaultErrno = root.TryGetProperty("defaultErrnoRet", out var de) && de.ValueKind == JsonValueKind.Number ? de.GetInt32() : null;
            if (!root.TryGetProperty("defaultAction", out var da) || da.ValueKind != JsonValueKind.String)
                throw new SeccompCompileException($"seccomp profile '{source}': expected a string \"defaultAction\"");
            var defaultAction = Action(da.GetString()!, defaultErrno, null, source);
            var native = NativeScmpArch();
            var kernel = context.KernelVersion ?? RunningKernel();

            var arches = new List<uint>();
            if (root.TryGetProperty("architectures", out var archList) && archList.ValueKind == JsonValueKind.Array)
                arches.AddRange(archList.EnumerateArray().Select(a => Arch(a.GetString()!, source)));
            if (root.TryGetProperty("archMap", out var archMap) && archMap.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in archMap.EnumerateArray())
                {
                    if (entry.GetProperty("architecture").GetString() != native)
                        continue;
                    arches.Add(Arch(native, source));
                    if (entry.TryGetProperty("subArchitectures", out var subs) && subs.ValueKind == JsonValueKind.Array)
                        arches.AddRange(subs.EnumerateArray().Select(a => Arch(a.GetString()!, source)));
                }
            }
            uint nativeArch = Libseccomp.NativeArch();
            var extra = arches.Where(a => a != nativeArch).Distinct().ToList();

            var rules = new List<SeccompRule>();
            if (root.TryGetProperty("syscalls", out var syscalls) && syscalls.ValueKind == JsonValueKind.Array)
            {
                int index = 0;
                foreach (var s in syscalls.EnumerateArray())
                {
                    string where = $"seccomp profile '{source}', syscalls[{index++}]";
                    if (!Applies(s, context.Capabilities, kernel, where))
                        continue;
                    int? errnoRet = s.TryGetProperty("errnoRet", out var er) && er.ValueKind == JsonValueKind.Number ? er.GetInt32() : null;
                    var action = Action(s.GetProperty("action").GetString()!, errnoRet ?? defaultErrno, errnoRet, where);
                    var names = s.TryGetProperty("names", out var n) ? n.EnumerateArray().Select(x => x.GetString()!).ToList()
                        : s.TryGetProperty("name", out var single) ? [single.GetString()!] : [];
                    var conditionSets = ConditionSets(s, where);
                    foreach (var name in names)
                        foreach (var conditions in conditionSets)
                            rules.Add(new SeccompRule(name, action, conditions));
                }
            }
            return new SeccompFilterSpec(defaultAction, rules, extra, SeccompAction.KillProcess) { SkipUnknownSyscalls = true };
        }
    }

    private static bool Applies(JsonElement s, ulong caps, Version kernel, string where)
    {
        string arch = NativeDockerArch();
        if (s.TryGetProperty("includes", out var inc) && inc.ValueKind == JsonValueKind.Object)
        {
            if (inc.TryGetProperty("caps", out var c) && c.ValueKind == JsonValueKind.Array &&
                !c.EnumerateArray().All(x => HasCap(caps, x.GetString()!, where)))
                return false;
            if (inc.TryGetProperty("arches", out var a) && a.ValueKind == JsonValueKind.Array &&
                !a.EnumerateArray().Any(x => x.GetString() == arch))
                return false;
            if (inc.TryGetProperty("minKernel", out var k) && k.ValueKind == JsonValueKind.String)
            {
                if (!Version.TryParse(k.GetString(), out var min))
                    throw new SeccompCompileException($"{where}: expected a kernel version like \"4.8\" in includes.minKernel, got '{k.GetString()}'");
                if (kernel < min)
                    return false;
            }
        }
        if (s.TryGetProperty("excludes", out var exc) && exc.ValueKind == JsonValueKind.Object)
        {
            if (exc.TryGetProperty("caps", out var c) && c.ValueKind == JsonValueKind.Array &&
                c.EnumerateArray().Any(x => HasCap(caps, x.GetString()!, where)))
                return false;
            if (exc.TryGetProperty("arches", out var a) && a.ValueKind == JsonValueKind.Array &&
                a.EnumerateArray().Any(x => x.GetString() == arch))
                return false;
        }
        return true;
    }

    private static bool HasCap(ulong caps, string name, string where)
    {
        if (!CapabilityTable.TryParse(name, out int n))
            throw new SeccompCompileException($"{where}: unknown capability '{name}'");
        return (caps & (1UL << n)) != 0;
    }

    private static List<IReadOnlyList<SeccompArgCondition>> ConditionSets(JsonElement s, string where)
    {
        if (!s.TryGetProperty("args", out var args) || args.ValueKind != JsonValueKind.Array || args.GetArrayLength() == 0)
            return [[]];
        var conditions = args.EnumerateArray().Select(a => new SeccompArgCondition(
            a.GetProperty("index").GetUInt32(),
            Compare(a.GetProperty("op").GetString()!, where),
            a.GetProperty("value").GetUInt64(),
            a.TryGetProperty("valueTwo", out var v2) ? v2.GetUInt64() : 0)).ToList();
        if (conditions.Select(c => c.Index).Distinct().Count() == conditions.Count)
            return [conditions];
        // Same argument more than once: each condition is its own rule (runc's behaviour).
        return conditions.Select(c => (IReadOnlyList<SeccompArgCondition>)[c]).ToList();
    }

    private static SeccompCompare Compare(string op, string where) => op switch
    {
        "SCMP_CMP_NE" => SeccompCompare.NotEqual,
        "SCMP_CMP_LT" => SeccompCompare.LessThan,
        "SCMP_CMP_LE" => SeccompCompare.LessOrEqual,
        "SCMP_CMP_EQ" => SeccompCompare.Equal,
        "SCMP_CMP_GE" => SeccompCompare.GreaterOrEqual,
        "SCMP_CMP_GT" => SeccompCompare.GreaterThan,
        "SCMP_CMP_MASKED_EQ" => SeccompCompare.MaskedEqual,
        _ => throw new SeccompCompileException($"{where}: unknown argument operator '{op}'"),
    };

    private static SeccompAction Action(string action, int? errno, int? explicitRet, string where) => action switch
    {
        "SCMP_ACT_ALLOW" => SeccompAction.Allow,
        "SCMP_ACT_ERRNO" => SeccompAction.Errno(errno ?? 1), // EPERM when the profile names none
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompAction.KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction.KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction.Trap,
        "SCMP_ACT_LOG" => SeccompAction.Log,
        "SCMP_ACT_TRACE" => SeccompAction.Trace(explicitRet ?? 0),
        "SCMP_ACT_NOTIFY" => throw new SeccompCompileException($"{where}: SCMP_ACT_NOTIFY needs a seccomp agent, which this supervisor does not run"),
        _ => throw new SeccompCompileException($"{where}: unknown action '{action}'"),
    };

    private static uint Arch(string name, string where) => name switch
    {
        "SCMP_ARCH_X86_64" => Libseccomp.ArchX86_64,
        "SCMP_ARCH_X86" => Libseccomp.ArchX86,
        "SCMP_ARCH_X32" => Libseccomp.ArchX32,
        "SCMP_ARCH_AARCH64" => Libseccomp.ArchAarch64,
        "SCMP_ARCH_ARM" => Libseccomp.ArchArm,
        _ => throw new SeccompCompileException($"seccomp profile '{where}': architecture '{name}' is not supported on this host"),
    };

    private static string NativeScmpArch() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "SCMP_ARCH_X86_64",
        Architecture.Arm64 => "SCMP_ARCH_AARCH64",
        var a => "SCMP_ARCH_" + a.ToString().ToUpperInvariant(),
    };

    /// <summary>Docker's (Go's) architecture names, as used in includes/excludes.arches.</summary>
    private static string NativeDockerArch() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "x86",
        Architecture.Arm => "arm",
        var a => a.ToString().ToLowerInvariant(),
    };

    private static Version RunningKernel()
    {
        // "6.18.0-foo" → 6.18.0
        var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var numeric = new string(release.TakeWhile(c => char.IsDigit(c) || c == '.').ToArray()).Trim('.');
        return Version.TryParse(numeric.Contains('.') ? numeric : numeric + ".0", out var v) ? v : new Version(0, 0);
    }

}
