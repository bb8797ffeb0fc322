using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

public static partial class ExecPlanCompiler
{
    /// <summary>SystemCallFilter, SystemCallArchitectures, SystemCallLog, SeccompProfile → BPF.</summary>
    private sealed partial class Compilation
    {
        private (ImmutableArray<byte> Bpf, bool Present, SeccompAnswer? Notify) Seccomp(CapabilitySets caps)
        {
            if (_sbx.SeccompProfile is { Length: > 0 } profile)
            {
                if (_sbx.SystemCallFilter is not null)
                    throw Error("SeccompProfile", "cannot be combined with SystemCallFilter: a service gets one filter");
                if (!File.Exists(profile))
                    throw Error("SeccompProfile", $"'{profile}' does not exist");
                try
                {
                    return ([.. CompileWithKernel(OciSeccompProfile.Load(profile, new OciProfileContext(caps.Bounding)), "SeccompProfile")], true, null);
                }
                catch (SeccompCompileException e)
                {
                    throw Error("SeccompProfile", e.Message);
                }
            }

            bool hasArch = _sbx.SystemCallArchitectures.Count > 0;
            bool learn = _sbx.SystemCallFilterMode == SyscallFilterMode.Learn;
            if (_sbx.SystemCallFilter is null && !learn && !hasArch && _sbx.SystemCallLog.Count == 0 && !_sbx.HasKernelSeccompDirectives)
                return ([], false, null);

            // Learning without a list records everything beyond @default, which every allow list has.
            var mode = _sbx.SystemCallFilter is { IsAllowList: true } || learn ? SyscallListMode.Allow : SyscallListMode.Deny;
            var set = DeclaredSet(learn);
            var log = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var name in _sbx.SystemCallLog)
                log.UnionWith(Expand("SystemCallLog", name));

            var error = learn ? SeccompAction.Allow : _sbx.SystemCallErrorNumber is { } errno ? SeccompAction.Errno(errno) : SeccompAction.KillProcess;
            // The calls SystemCallFilter denies (or, learning, leaves out) are reported to the
            // supervisor, which answers them as the filter would have (or lets them through).
            bool notify = _sbx.SystemCallFilter is not null || learn;
            SeccompAnswer? answer = !notify ? null : learn ? SeccompAnswer.Continue
                : _sbx.SystemCallErrorNumber is { } declared ? new SeccompAnswer(SeccompAnswerKind.Errno, declared) : SeccompAnswer.Kill;
            var policy = new SyscallListPolicy(mode, set, error, NativeOnly: false, log) { ExtraArchitectures = Architectures(), NotifyDenials = notify };
            try
            {
                return ([.. CompileWithKernel(policy.ToSpec(), "SystemCallFilter", notifyDenies: notify && !learn)], true, answer);
            }
            catch (SeccompCompileException e)
            {
                throw Error("SystemCallFilter", e.Message);
            }
        }

        /// <summary>SystemCallFilter's calls: those allowed (an allow list, or learning) or those denied (a deny list).</summary>
        private SortedSet<string> DeclaredSet(bool learn)
        {
            var set = new SortedSet<string>(StringComparer.Ordinal);
            if (learn && _sbx.SystemCallFilter is null)
                set.UnionWith(Expand("SystemCallFilterMode", "@default"));
            if (_sbx.SystemCallFilter is { } filter)
            {
                if (filter.IsAllowList)
                    set.UnionWith(Expand("SystemCallFilter", "@default"));
                foreach (var entry in filter.Entries)
                {
                    bool add = filter.IsAllowList ? !entry.Negated : entry.Negated;
                    foreach (var name in entry.Names)
                    {
                        var calls = Expand("SystemCallFilter", name);
                        if (add) set.UnionWith(calls);
                        else set.ExceptWith(calls);
                    }
                }
            }
            return set;
        }

        /// <summary>
        /// A group's members that exist on this architecture (systemd's groups list every
        /// architecture's calls), or a single name, which must exist here.
        /// </summary>
        private IEnumerable<string> Expand(string key, string name)
        {
            if (name.StartsWith('@'))
            {
                if (!SyscallGroups.TryGet(name, out var members))
                    throw Error(key, $"unknown system call group '{name}'");
                return members.Where(SeccompCompiler.IsKnownOnThisArch);
            }
            if (!SeccompCompiler.IsKnownOnThisArch(name))
                throw Error(key, $"unknown system call '{name}' on this architecture ({RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()})");
            return [name];
        }

        /// <summary>SystemCallArchitectures → the secondary ABIs to filter; empty list = every ABI the host runs.</summary>
        private IReadOnlyList<uint> Architectures()
        {
            if (_sbx.SystemCallArchitectures.Count == 0)
                return SeccompCompiler.SecondaryArchitectures();
            bool x64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
            var extra = new List<uint>();
            foreach (var a in _sbx.SystemCallArchitectures)
            {
                switch (a)
                {
                    case SyscallArchitecture.Native:
                    case SyscallArchitecture.X86_64 when x64:
                    case SyscallArchitecture.Aarch64 when RuntimeInformation.ProcessArchitecture == Architecture.Arm64:
                        break;
                    case SyscallArchitecture.X86 when x64:
                        extra.Add(Supervisor.Linux.Native.Libseccomp.ArchX86);
                        break;
                    case SyscallArchitecture.X32 when x64:
                        extra.Add(Supervisor.Linux.Native.Libseccomp.ArchX32);
                        break;
                    case SyscallArchitecture.Arm when RuntimeInformation.ProcessArchitecture == Architecture.Arm64:
                        extra.Add(Supervisor.Linux.Native.Libseccomp.ArchArm);
                        break;
                    default:
                        throw Error("SystemCallArchitectures", $"'{a}' cannot run on this host");
                }
            }
            return extra;
        }
    }
}
