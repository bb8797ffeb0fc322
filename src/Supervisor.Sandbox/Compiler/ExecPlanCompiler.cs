using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Units.Model;
using UnitNamespaces = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// Turns a validated unit's [Service] and [Sandbox] into a flat <see cref="ExecPlan"/>. Every
/// check that can be made before spawning is made here (binary, user, paths, capabilities,
/// syscalls, LSM), so a bad unit fails with one precise <see cref="PlanCompileException"/>
/// naming unit, key and cause, and nothing is started. The same unit and context always give
/// the same plan.
///
/// Rules worth knowing (systemd's, unless noted):
///  - Any filesystem setting, RootDirectory, or a pid namespace implies a mount namespace (a pid
///    namespace gets its own /proc). Hostname implies a UTS namespace.
///  - Capabilities: bounding = CapabilityBoundingSet (all by default), never more than the
///    supervisor holds; ambient must be inside it. Root without User: permitted = effective =
///    bounding. A non-root User keeps only the ambient set.
///  - A seccomp filter implies NoNewPrivileges unless the service keeps CAP_SYS_ADMIN (the
///    kernel refuses a filter from an unprivileged process without it).
///  - An allow list always includes @default, as in systemd.
///  - User namespace: service ids 0..65535 map to host ids from <see cref="CompileContext.UserNamespaceBase"/>;
///    with PrivateUsers only root, the service's ids and nobody, each to itself (ExecPlanCompiler.Namespace.cs).
///  - ProtectProc mounts a new proc instance with hidepid= (each proc mount has its own options
///    since Linux 5.8); that needs the mount namespace it implies, and shows the host's
///    processes unless there is also a pid namespace.
///  - Paths inside a fresh tmpfs of the plan (PrivateTmp's /tmp and /var/tmp, TemporaryFileSystem)
///    cannot be listed in ReadWritePaths and friends: the tmpfs hides them. A bind into one gets
///    its mount point created there (ExecPlanCompiler.Namespace.cs).
///  - The sandbox compiled is the declared one with what its keys imply
///    (SandboxSection.WithImplications: DynamicUser's protections). DynamicUser runs as a user
///    of that name from /etc/passwd when there is one, else as the pair the runtime allocated
///    (CompileContext.DynamicUser), with home "/" and no login shell.
///  - CapabilityBoundingSet items the supervisor lacks are left out of the sets and kept in
///    UnavailableCapabilities, for inspect to show.
/// </summary>
public static partial class ExecPlanCompiler
{
    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private const int CapSysAdmin = 21;

    /// <summary>The plan for the unit's ExecStart.</summary>
    public static ExecPlan Compile(UnitDefinition unit, CompileContext ctx) => Compile(unit, ctx, null);

    /// <summary>
    /// The plan for one of the unit's commands (ExecStartPre, ExecStop, …) in the same sandbox;
    /// null means ExecStart.
    /// </summary>
    public static ExecPlan Compile(UnitDefinition unit, CompileContext ctx, Command? command)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(ctx);
        return new Compilation(unit, ctx, command).Run();
    }

    private sealed partial class Compilation(UnitDefinition unit, CompileContext ctx, Command? command)
    {
        private readonly ServiceSection _svc = unit.Service;
        /// <summary>The sandbox with what its keys imply (DynamicUser's protections): never the declared section alone.</summary>
        private readonly SandboxSection _sbx = unit.Sandbox.WithImplications();
        private string? _root;

        private PlanCompileException Error(string key, string cause) => new(unit.Name, key, $"{unit.Name}: {key}: {cause}");

        /// <summary>A path as the helper sees it before pivot_root.</summary>
        private string P(string path) => _root is null ? path : path == "/" ? _root : _root.TrimEnd('/') + path;

        private static bool Exists(string path) => Directory.Exists(path) || File.Exists(path);

        public ExecPlan Run()
        {
            if (unit.Kind != UnitKind.Service)
                throw Error("Kind", "only services run; a slice has no process");
            var exec = command ?? _svc.ExecStart ?? throw Error("ExecStart", "no command to run");
            return exec.Flags.HasFlag(ExecFlags.FullPrivileges) ? FullyPrivileged(exec) : Sandboxed(exec);
        }

        private ExecPlan Sandboxed(Command exec)
        {
            if (_sbx.RootDirectory is { Length: > 0 } rootDir)
            {
                if (!Path.IsPathRooted(rootDir) || !Directory.Exists(rootDir))
                    throw Error("RootDirectory", $"'{rootDir}' is not an existing directory");
                _root = Path.TrimEndingDirectorySeparator(rootDir);
            }
            string program = exec.Program;
            if (!Path.IsPathRooted(program))
                throw Error("ExecStart", $"'{program}' is not an absolute path");
            if (!File.Exists(P(program)))
                throw _root is null
                    ? Error("ExecStart", $"'{program}' does not exist")
                    : Error("RootDirectory", $"'{_root}' does not contain the program '{program}' (looked for '{P(program)}')");

            var ns = Namespaces();
            var (identity, user) = IdentityFor(exec, ns);
            var caps = Capabilities(identity);
            var (bpf, filter, notify) = Seccomp(caps);
            var landlock = LandlockRules();
            // Landlock: landlock_restrict_self needs no_new_privs (or CAP_SYS_ADMIN, which the helper does not rely on).
            bool nnp = _sbx.NoNewPrivileges || landlock is not null || (filter && (caps.Effective & (1UL << CapSysAdmin)) == 0);
            if ((ns & NamespaceFlags.Mount) != 0)
                CheckProgramInView(program);

            var (uidMap, gidMap) = UserMaps(ns, identity);
            return new ExecPlan
            {
                Path = program,
                Argv = [.. exec.Argv],
                Environment = Environment(user),
                WorkingDirectory = WorkingDirectory(user),
                Identity = identity,
                Namespaces = ns,
                NetworkNamespacePath = NetworkNamespace(ns),
                UidMap = uidMap,
                GidMap = gidMap,
                Hostname = _sbx.Hostname,
                Mounts = (ns & NamespaceFlags.Mount) != 0 ? Mounts(ns) : [],
                ResourceLimits = Limits(),
                Capabilities = caps,
                SecureBits = SecureBits(),
                NoNewPrivileges = nnp,
                LoopbackUp = (ns & NamespaceFlags.Net) != 0,
                Lsm = Lsm(),
                SeccompBpf = bpf,
                SeccompNotify = notify,
                Landlock = landlock,
                KernelProtections = KernelProtections(),
                CgroupJoins = CgroupJoinPlanner.For(ctx.CgroupProcsFiles),
                // KeyringMode; systemd's default for system services, private: no key of the supervisor's session reaches a service.
                Keyring = KeyringOf(),
                UMask = _sbx.UMask,
                UnavailableCapabilities = UnavailableCapabilities(),
                Stdio = ctx.Stdio,
                Process = ProcessAttributes(),
                Terminal = TerminalModeOf(),
            };
        }

        private bool HasFilesystemSettings =>
            _sbx.ProtectSystem != ProtectSystem.No || _sbx.ProtectHome != ProtectHome.No || _sbx.PrivateTmp || _sbx.PrivateDevices ||
            _sbx.ReadWritePaths.Count > 0 || _sbx.ReadOnlyPaths.Count > 0 || _sbx.InaccessiblePaths.Count > 0 ||
            _sbx.BindPaths.Count > 0 || _sbx.BindReadOnlyPaths.Count > 0 || _root is not null || _sbx.ProtectKernelTunables ||
            _sbx.ProtectControlGroups || _sbx.ProtectProc != ProtectProc.Default || HasNamespaceViewSettings;

        private NamespaceFlags Namespaces()
        {
            var n = _sbx.Namespaces;
            var f = NamespaceFlags.None;
            if (n.HasFlag(UnitNamespaces.Pid)) f |= NamespaceFlags.Pid;
            if (n.HasFlag(UnitNamespaces.Net)) f |= NamespaceFlags.Net;
            if (n.HasFlag(UnitNamespaces.Mount)) f |= NamespaceFlags.Mount;
            if (n.HasFlag(UnitNamespaces.Ipc)) f |= NamespaceFlags.Ipc;
            if (n.HasFlag(UnitNamespaces.Uts)) f |= NamespaceFlags.Uts;
            if (n.HasFlag(UnitNamespaces.User)) f |= NamespaceFlags.User;
            if (n.HasFlag(UnitNamespaces.Cgroup)) f |= NamespaceFlags.Cgroup;
            if (n.HasFlag(UnitNamespaces.Time)) f |= NamespaceFlags.Time;
            f = PrivateNamespaces(f);
            // A pid namespace needs its own /proc, and every filesystem setting its own mount table.
            if ((f & NamespaceFlags.Pid) != 0 || HasFilesystemSettings)
                f |= NamespaceFlags.Mount;
            if (_sbx.Hostname is not null)
                f |= NamespaceFlags.Uts;
            f |= KernelNamespaces();
            return f;
        }

        private string? NetworkNamespace(NamespaceFlags ns)
        {
            if (_sbx.NetworkNamespacePath is not { Length: > 0 } path)
                return null;
            if ((ns & NamespaceFlags.Net) != 0)
                throw Error("NetworkNamespacePath", $"cannot join '{path}' and also create a new network namespace ({(_sbx.PrivateNetwork ? "PrivateNetwork" : "Namespaces has \"net\"")})");
            if (!File.Exists(path))
                throw Error("NetworkNamespacePath", $"'{path}' does not exist (create it with 'ip netns add')");
            return path;
        }

        private (Identity? Identity, UserEntry? User) Identity(NamespaceFlags ns)
        {
            UserEntry? user = DynamicUserEntry();
            uint? gid = user?.Gid;
            if (user is null && _svc.User is { Length: > 0 } userName)
            {
                user = ctx.Users.FindUser(userName) ?? throw Error("User", $"user '{userName}' does not exist");
                gid = user.Gid;
            }
            if (_svc.Group is { Length: > 0 } groupName)
                gid = ctx.Users.FindGroup(groupName) ?? DynamicGroup(groupName, user) ?? throw Error("Group", $"group '{groupName}' does not exist");
            var groups = new SortedSet<uint>();
            if (user is not null)
                groups.UnionWith(ctx.Users.MemberGroupsOf(user.Name));
            foreach (var g in _svc.SupplementaryGroups)
                groups.Add(ctx.Users.FindGroup(g) ?? throw Error("SupplementaryGroups", $"group '{g}' does not exist"));

            if (user is null && gid is null && groups.Count == 0)
            {
                // A fresh user namespace keeps the creator's host uid until a setuid inside it:
                // switch to the namespace's root explicitly.
                return ((ns & NamespaceFlags.User) != 0 ? new Identity(0, 0, []) : null, null);
            }
            uint uid = user?.Uid ?? 0;
            if ((ns & NamespaceFlags.User) != 0 && !_sbx.PrivateUsers && (uid >= ctx.UserNamespaceSize || (gid ?? 0) >= ctx.UserNamespaceSize))
                throw Error("User", $"uid {uid}/gid {gid ?? 0} is outside the user namespace's mapped range 0..{ctx.UserNamespaceSize - 1}");
            return (new Identity(uid, gid ?? 0, [.. groups]), user);
        }

        private CapabilitySets Capabilities(Identity? identity)
        {
            int last = ctx.Host.CapLastCap;
            ulong hostAll = CapabilityTable.HostMask(last);
            if (_sbx.CapabilityBoundingSet is { } set)
                foreach (var c in set.Capabilities)
                    CheckHostKnows("CapabilityBoundingSet", c, last);
            foreach (var c in _sbx.AmbientCapabilities)
                CheckHostKnows("AmbientCapabilities", c, last);

            // The supervisor cannot hand out what it does not hold itself (capset would fail).
            ulong bounding = (_sbx.CapabilityBoundingSet?.Mask(last) ?? hostAll) & ctx.Host.SupervisorCapabilities;
            bounding &= ~KernelDroppedCapabilities;
            ulong ambient = 0;
            foreach (var c in _sbx.AmbientCapabilities)
            {
                if ((bounding & (1UL << c)) == 0)
                    throw Error("AmbientCapabilities", $"{CapabilityTable.NameOf(c)} is not in the capability bounding set{((ctx.Host.SupervisorCapabilities & (1UL << c)) == 0 ? " (the supervisor itself does not hold it)" : "")}");
                ambient |= 1UL << c;
            }
            bool root = identity is null || identity.Uid == 0;
            return root
                ? new CapabilitySets(bounding, bounding, bounding, ambient, ambient)
                : new CapabilitySets(bounding, ambient, ambient, ambient, ambient);
        }

        private void CheckHostKnows(string key, int cap, int last)
        {
            if (cap > last)
                throw Error(key, $"{CapabilityTable.NameOf(cap)} is not known to the host kernel (its last capability is {CapabilityTable.NameOf(last)}, number {last})");
        }

        private uint? SecureBits()
        {
            if (_sbx.SecureBits.Count == 0)
                return null;
            uint bits = 0;
            foreach (var b in _sbx.SecureBits)
                bits |= b switch
                {
                    SecureBit.Noroot => 0x01u,
                    SecureBit.NorootLocked => 0x02u,
                    SecureBit.NoSetuidFixup => 0x04u,
                    SecureBit.NoSetuidFixupLocked => 0x08u,
                    SecureBit.KeepCaps => 0x10u,
                    SecureBit.KeepCapsLocked => 0x20u,
                    _ => throw Error("SecureBits", $"unknown securebit {b}"),
                };
            return bits;
        }

        private LsmLabel? Lsm()
        {
            if (_sbx.AppArmorProfile is not null && _sbx.SELinuxContext is not null)
                throw Error("AppArmorProfile", "cannot be combined with SELinuxContext: a host runs one of the two");
            if (_sbx.AppArmorProfile is { } aa)
            {
                if (!ctx.Host.AppArmorEnabled && !aa.IgnoreIfUnavailable)
                    throw new PlanCompileException(unit.Name, "AppArmorProfile", $"{unit.Name}: cannot apply AppArmorProfile={aa.Value}: AppArmor is not enabled on this host");
                return new LsmLabel(LsmKind.AppArmor, aa.Value, aa.IgnoreIfUnavailable);
            }
            if (_sbx.SELinuxContext is { } se)
            {
                if (!ctx.Host.SELinuxEnabled && !se.IgnoreIfUnavailable)
                    throw new PlanCompileException(unit.Name, "SELinuxContext", $"{unit.Name}: cannot apply SELinuxContext={se.Value}: SELinux is not enabled on this host");
                return new LsmLabel(LsmKind.SELinux, se.Value, se.IgnoreIfUnavailable);
            }
            return null;
        }

        private ImmutableArray<string> Environment(UserEntry? user)
        {
            var env = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["PATH"] = DefaultPath };
            if (user is not null)
            {
                env["USER"] = user.Name;
                env["LOGNAME"] = user.Name;
                env["HOME"] = user.Home;
                env["SHELL"] = user.Shell;
            }
            if (ctx.NotifySocket is { } notify)
                env["NOTIFY_SOCKET"] = notify;
            if (_svc.TerminalType is { } term)
                env["TERM"] = term;
            PassEnvironment(env);
            DirectoryEnvironment(env);
            foreach (var (k, v) in _svc.Environment)
                env[k] = v;
            // systemd: "Variables set in EnvironmentFile= override Environment=".
            foreach (var file in _svc.EnvironmentFile)
            {
                if (!File.Exists(file.Path))
                {
                    if (file.IgnoreIfMissing)
                        continue;
                    throw Error("EnvironmentFile", $"'{file.Path}' does not exist");
                }
                foreach (var raw in File.ReadAllLines(file.Path))
                {
                    var line = raw.Trim();
                    if (line.Length == 0 || line[0] is '#' or ';')
                        continue;
                    int eq = line.IndexOf('=');
                    if (eq <= 0)
                        throw Error("EnvironmentFile", $"'{file.Path}': expected KEY=value, got '{line}'");
                    var value = line[(eq + 1)..].Trim();
                    if (value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0])
                        value = value[1..^1];
                    env[line[..eq].Trim()] = value;
                }
            }
            UnsetEnvironment(env);
            return [.. env.Select(kv => $"{kv.Key}={kv.Value}")];
        }

        private string? WorkingDirectory(UserEntry? user)
        {
            if (_svc.WorkingDirectory is not { } wd)
                return null;
            var path = wd.Path == "~" ? user?.Home ?? "/root" : wd.Path;
            if (!Directory.Exists(P(path)))
            {
                if (wd.IgnoreIfMissing)
                    return null;
                throw Error("WorkingDirectory", $"'{path}' does not exist");
            }
            return path;
        }

        private ImmutableArray<ResourceLimit> Limits()
        {
            var result = ImmutableArray.CreateBuilder<ResourceLimit>();
            foreach (var (key, limit) in _svc.Limits)
            {
                RlimitResource r = key switch
                {
                    "LimitCPU" => RlimitResource.Cpu, "LimitFSIZE" => RlimitResource.Fsize, "LimitDATA" => RlimitResource.Data,
                    "LimitSTACK" => RlimitResource.Stack, "LimitCORE" => RlimitResource.Core, "LimitRSS" => RlimitResource.Rss,
                    "LimitNOFILE" => RlimitResource.Nofile, "LimitAS" => RlimitResource.As, "LimitNPROC" => RlimitResource.Nproc,
                    "LimitMEMLOCK" => RlimitResource.Memlock, "LimitLOCKS" => RlimitResource.Locks,
                    "LimitSIGPENDING" => RlimitResource.Sigpending, "LimitMSGQUEUE" => RlimitResource.Msgqueue,
                    "LimitNICE" => RlimitResource.Nice, "LimitRTPRIO" => RlimitResource.Rtprio, "LimitRTTIME" => RlimitResource.Rttime,
                    _ => throw Error(key, "unknown resource limit"),
                };
                if (limit.Soft > limit.Hard)
                    throw Error(key, $"soft limit {limit.Soft} is above the hard limit {limit.Hard}");
                result.Add(new ResourceLimit(r, limit.Soft, limit.Hard));
            }
            return result.ToImmutable();
        }
    }
}
