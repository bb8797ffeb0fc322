using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Sandbox.Compiler;

public static partial class ExecPlanCompiler
{
    /// <summary>
    /// The kernel-surface directives, as systemd carries them out (src/core/unit.c
    /// unit_patch_contexts, namespace.c, execute.c): capabilities out of the bounding set, rules in
    /// the unit's one seccomp filter, paths hidden in its mount namespace, an own uts namespace,
    /// /proc with subset=pid.
    /// </summary>
    private sealed partial class Compilation
    {
        private static readonly string[] ModuleDirectories = ["/usr/lib/modules", "/lib/modules"];
        private static readonly string[] KernelLogFiles = ["/proc/kmsg", "/dev/kmsg"];

        [GeneratedRegex("^rtc[0-9]*$")]
        private static partial Regex RtcNode();

        /// <summary>A mount namespace for the paths the directives hide and for ProcSubset; a uts namespace for ProtectHostname.</summary>
        private NamespaceFlags KernelNamespaces()
        {
            var f = NamespaceFlags.None;
            if (_sbx.ProtectKernelModules || _sbx.ProtectKernelLogs || _sbx.ProtectClock || _sbx.ProcSubset == ProcSubset.Pid)
                f |= NamespaceFlags.Mount;
            if (_sbx.ProtectHostname)
                f |= NamespaceFlags.Uts;
            return f;
        }

        /// <summary>CAP_SYS_MODULE, CAP_SYSLOG, CAP_SYS_TIME, CAP_WAKE_ALARM as the Protect* directives ask.</summary>
        private ulong KernelDroppedCapabilities => _sbx.KernelCapabilityDrops.Aggregate(0UL, (m, d) => m | (1UL << d.Capability));

        /// <summary>The proc mount's options with ProcSubset = "pid" (each proc instance has its own since Linux 5.8).</summary>
        private string WithProcSubset(string options) =>
            _sbx.ProcSubset != ProcSubset.Pid ? options : options.Length == 0 ? "subset=pid" : options + ",subset=pid";

        /// <summary>The last mount step: the paths the directives hide, over the API filesystems they live in.</summary>
        private void KernelSurfaceMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            if (_sbx.ProcSubset == ProcSubset.Pid)
            {
                // A subset=pid proc has no /proc/sys, /proc/kcore …: ProtectKernelTunables' steps on them
                // would be skipped by the helper (they are optional), so the plan does not list them
                // and inspect does not look for mounts that cannot exist.
                var procDir = P("/proc").TrimEnd('/') + "/";
                for (int i = ops.Count - 1; i >= 0; i--)
                    if (ops[i] is RemountMount r && r.Path.StartsWith(procDir, StringComparison.Ordinal) ||
                        ops[i] is InaccessibleMount m && m.Path.StartsWith(procDir, StringComparison.Ordinal))
                        ops.RemoveAt(i);
            }
            foreach (var (_, paths) in HiddenPaths())
                foreach (var path in paths)
                    ops.Add(new InaccessibleMount(P(path), Optional: true));
        }

        /// <summary>What each directive hides, as the service sees it: optional, so a path this host lacks is skipped.</summary>
        private IEnumerable<(string Directive, string[] Paths)> HiddenPaths()
        {
            if (_sbx.ProtectKernelModules)
                yield return ("ProtectKernelModules", ModuleDirectories);
            if (_sbx.ProtectKernelLogs)
                yield return ("ProtectKernelLogs", [.. KernelLogFiles.Where(p =>
                    !(p.StartsWith("/proc/", StringComparison.Ordinal) && _sbx.ProcSubset == ProcSubset.Pid) &&
                    !(p.StartsWith("/dev/", StringComparison.Ordinal) && _sbx.PrivateDevices))]);
            // A private /dev has no RTC to begin with.
            if (_sbx.ProtectClock && !_sbx.PrivateDevices)
                yield return ("ProtectClock", [.. RtcNodes()]);
        }

        /// <summary>/dev/rtc and /dev/rtcN of the host's /dev, which the view has (RootDirectory gets it bound in).</summary>
        private static IEnumerable<string> RtcNodes()
        {
            if (!Directory.Exists("/dev"))
                return [];
            return Directory.EnumerateFileSystemEntries("/dev")
                .Select(Path.GetFileName)
                .Where(n => n is not null && RtcNode().IsMatch(n))
                .Order(StringComparer.Ordinal)
                .Select(n => "/dev/" + n);
        }

        /// <summary>Compiles SPEC (from SystemCallFilter or a profile) with the directives' rules merged in, and checks the result.</summary>
        private byte[] CompileWithKernel(SeccompFilterSpec spec, string baseKey, bool notifyDenies = false)
        {
            if (!_sbx.HasKernelSeccompDirectives)
                return SeccompCompiler.Compile(spec);
            string baseName = baseKey == "SeccompProfile" ? $"SeccompProfile '{_sbx.SeccompProfile}'" : "SystemCallFilter";
            string blame = _sbx.SystemCallFilter is null && _sbx.SeccompProfile is null ? FirstSeccompDirective() : baseKey;
            try
            {
                var (merged, expectations) = SeccompMerge.Apply(spec, arch => KernelRestrictions.For(_sbx, arch), baseName, notifyDenies);
                var bpf = SeccompCompiler.Compile(merged);
                foreach (var (e, got) in SeccompMerge.Violations(bpf, expectations))
                    throw Error(e.Directive,
                        $"libseccomp built a filter that answers {e.Syscall}({string.Join(", ", e.Args.Select(a => "0x" + a.ToString("x", CultureInfo.InvariantCulture)))}) " +
                        $"on ABI 0x{e.Arch:x8} with {got} instead of {e.Action}; the service is not started under a filter that does not do what the unit declares");
                return bpf;
            }
            catch (KernelRestrictionException e)
            {
                throw Error(e.Directive, e.Message);
            }
            catch (SeccompCompileException e)
            {
                throw Error(blame, e.Message);
            }
        }

        private string FirstSeccompDirective() => KernelProtections().First(p => p.InSeccompFilter).Directive;

        /// <summary>One entry per directive the unit sets, for inspect.</summary>
        private ImmutableArray<KernelProtection> KernelProtections()
        {
            var result = ImmutableArray.CreateBuilder<KernelProtection>();
            // What exists now is what inspect will look for (the view's /dev is the host's, bound into a RootDirectory).
            var hidden = HiddenPaths().ToDictionary(h => h.Directive,
                h => h.Paths.Where(p => Exists(p.StartsWith("/dev/", StringComparison.Ordinal) ? p : P(p))).ToImmutableArray());
            KernelProtection Seccomp(string directive, string meaning)
            {
                ulong drops = _sbx.KernelCapabilityDrops.Where(d => d.Directive == directive).Aggregate(0UL, (m, d) => m | (1UL << d.Capability));
                return new KernelProtection(directive, meaning)
                {
                    InSeccompFilter = true,
                    DroppedCapabilities = drops,
                    HiddenPaths = hidden.GetValueOrDefault(directive, []),
                };
            }
            if (_sbx.RestrictNamespaces is { } ns)
                result.Add(Seccomp("RestrictNamespaces", NamespaceMeaning(ns)));
            if (_sbx.LockPersonality)
                result.Add(Seccomp("LockPersonality", "personality() kept at PER_LINUX"));
            if (_sbx.MemoryDenyWriteExecute)
                result.Add(Seccomp("MemoryDenyWriteExecute", "no memory both writable and executable"));
            if (_sbx.RestrictRealtime)
                result.Add(Seccomp("RestrictRealtime", "no realtime scheduling"));
            if (_sbx.RestrictSUIDSGID)
                result.Add(Seccomp("RestrictSUIDSGID", "no setuid/setgid file modes"));
            if (_sbx.RestrictAddressFamilies is { } af)
                result.Add(Seccomp("RestrictAddressFamilies", FamilyMeaning(af)));
            if (_sbx.PrivateDevices)
                result.Add(Seccomp("PrivateDevices", "no raw I/O and no device nodes made"));
            if (_sbx.ProtectKernelModules)
                result.Add(Seccomp("ProtectKernelModules", "no kernel module loading"));
            if (_sbx.ProtectKernelLogs)
                result.Add(Seccomp("ProtectKernelLogs", "no kernel log access"));
            if (_sbx.ProtectClock)
                result.Add(Seccomp("ProtectClock", "the clock cannot be set"));
            if (_sbx.ProtectHostname)
                result.Add(Seccomp("ProtectHostname", "the hostname cannot be changed") with { OwnUts = true });
            if (_sbx.ProcSubset == ProcSubset.Pid)
                result.Add(new KernelProtection("ProcSubset", "/proc shows processes only") { ProcSubsetPid = true });
            return result.ToImmutable();
        }

        private static string NamespaceMeaning(NamespaceRestriction r)
        {
            var allowed = Supervisor.Linux.NamespaceKind.All.Where((k, i) => r.Allowed.HasFlag((Namespaces)(1 << i))).Select(k => k.ProcName).ToList();
            return allowed.Count == 0 ? "no namespace may be created or joined" : $"only {string.Join(" ", allowed)} namespaces";
        }

        private static string FamilyMeaning(AddressFamilyRestriction r) =>
            r.IsNone ? "no socket()"
            : r.Invert ? $"socket() not for {string.Join(" ", r.Families.Select(AddressFamilies.Name))}"
            : $"socket() only for {string.Join(" ", r.Families.Select(AddressFamilies.Name))}";
    }
}
