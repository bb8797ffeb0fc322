using System.Collections.Immutable;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

public static partial class ExecPlanCompiler
{
    /// <summary>The filesystem view: the mount operations, in the order that makes each one stick (see the class comment in mount.c).</summary>
    private sealed partial class Compilation
    {
        private ImmutableArray<MountOperation> Mounts(NamespaceFlags ns)
        {
            var ops = ImmutableArray.CreateBuilder<MountOperation>();
            // 1. Mount points a new root needs, while it is still writable.
            if (_root is not null)
                foreach (var dir in new[] { "/proc", "/dev", "/sys", "/tmp" })
                    ops.Add(new MkdirOperation(P(dir)));
            BindMountPoints(ops);
            // 2. Read-only system first: mounts made afterwards (proc, dev, tmp) stay writable.
            ProtectSystemMounts(ops);
            // 3. Home directories.
            ProtectHomeMounts(ops);
            // 4. API filesystems, and the IPC namespace's own message queues.
            ApiFilesystems(ops, ns);
            MqueueMount(ops, ns);
            // 5. Private /tmp and /var/tmp, then TemporaryFileSystem.
            if (_sbx.PrivateTmp)
                foreach (var t in new[] { "/tmp", "/var/tmp" })
                    if (Directory.Exists(P(t)))
                        ops.Add(new TmpfsMount(P(t)));
            TemporaryFileSystems(ops);
            // 6. The unit's own path lists, in systemd's order of precedence.
            PathListMounts(ops);
            BindMounts(ops);
            ExecDirectoryMounts(ops);
            // 7. Kernel knobs and the cgroup tree, read-only; then noexec, after every mount it applies to.
            KernelMounts(ops);
            KernelSurfaceMounts(ops);
            ExecAttributes(ops);
            // 8. The notify socket, wherever a mount above hid it.
            NotifySocketMount(ops);
            // 9. Last: enter the new root, detaching the host's.
            if (_root is not null)
                ops.Add(new PivotRootOperation(_root));
            return ops.ToImmutable();
        }

        private void ProtectSystemMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            switch (_sbx.ProtectSystem)
            {
                case ProtectSystem.Yes:
                case ProtectSystem.Full:
                    foreach (var p in new[] { "/usr", "/boot", "/efi" })
                        ops.Add(new RemountMount(P(p), ReadOnly: true, Optional: true));
                    if (_sbx.ProtectSystem == ProtectSystem.Full)
                        ops.Add(new RemountMount(P("/etc"), ReadOnly: true));
                    break;
                case ProtectSystem.Strict:
                    ops.Add(new RemountMount(P("/"), ReadOnly: true));
                    // The API filesystems stay as they were (ProtectKernelTunables narrows them).
                    if (_root is null)
                        foreach (var p in new[] { "/dev", "/proc", "/sys" })
                            ops.Add(new RemountMount(p, ReadOnly: false, Optional: true));
                    break;
            }
        }

        private void ProtectHomeMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var home in new[] { "/home", "/root", "/run/user" })
            {
                switch (_sbx.ProtectHome)
                {
                    case ProtectHome.Yes:
                        ops.Add(new InaccessibleMount(P(home), Optional: true));
                        break;
                    case ProtectHome.ReadOnly:
                        ops.Add(new RemountMount(P(home), ReadOnly: true, Optional: true));
                        break;
                    case ProtectHome.Tmpfs when Directory.Exists(P(home)):
                        ops.Add(new TmpfsMount(P(home), 0x1ED, ReadOnly: true));
                        break;
                }
            }
        }

        /// <summary>A new proc for a pid namespace, a new root or hidepid=; /dev and /sys.</summary>
        private void ApiFilesystems(ImmutableArray<MountOperation>.Builder ops, NamespaceFlags ns)
        {
            bool pid = (ns & NamespaceFlags.Pid) != 0;
            string procOptions = _sbx.ProtectProc switch
            {
                ProtectProc.Invisible => "hidepid=invisible",
                ProtectProc.Noaccess => "hidepid=noaccess",
                ProtectProc.Ptraceable => "hidepid=ptraceable",
                _ => "",
            };
            procOptions = WithProcSubset(procOptions);
            if (pid || _root is not null || procOptions.Length > 0)
            {
                // A new proc instance: it shows the pid namespace and takes its own hidepid=. In a
                // user namespace without its own pid namespace only the host's root may make it.
                ops.Add(new ProcMount(P("/proc"), procOptions, Early: !pid && (ns & NamespaceFlags.User) != 0));
            }
            if (_sbx.PrivateDevices)
                ops.Add(new MinimalDevMount(P("/dev")));
            else if (_root is not null)
                ops.Add(new BindMount("/dev", P("/dev"), ReadOnly: false));
            if (_root is not null)
                ops.Add(new BindMount("/sys", P("/sys"), ReadOnly: false));
        }

        /// <summary>ReadOnlyPaths, ReadWritePaths, InaccessiblePaths.</summary>
        private void PathListMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var p in _sbx.ReadOnlyPaths)
                if (CheckPath("ReadOnlyPaths", p))
                    ops.Add(new RemountMount(P(p.Path), ReadOnly: true, Optional: p.IgnoreIfMissing));
            foreach (var p in _sbx.ReadWritePaths)
                if (CheckPath("ReadWritePaths", p))
                    ops.Add(new RemountMount(P(p.Path), ReadOnly: false, Optional: p.IgnoreIfMissing));
            foreach (var p in _sbx.InaccessiblePaths)
                if (CheckPath("InaccessiblePaths", p))
                    ops.Add(new InaccessibleMount(P(p.Path), p.IgnoreIfMissing));
        }

        /// <summary>BindPaths and BindReadOnlyPaths.</summary>
        private void BindMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var (b, ro) in _sbx.BindPaths.Select(b => (b, false)).Concat(_sbx.BindReadOnlyPaths.Select(b => (b, true))))
            {
                string key = ro ? "BindReadOnlyPaths" : "BindPaths";
                if (!Exists(b.Source))
                {
                    if (b.IgnoreIfMissing)
                        continue;
                    throw Error(key, $"'{b.Source}' does not exist");
                }
                // A missing mount point is created inside a fresh tmpfs of the plan, or was made
                // before the view became read-only (BindMountPoints); nowhere else.
                bool missing = !Exists(P(b.Destination));
                bool fresh = SandboxSection.FreshFileSystemAbove(Fresh, b.Destination) is not null;
                if (missing && !fresh && !MountPointMadeFirst(b))
                    throw Error(key, $"the mount point '{b.Destination}' does not exist{(_root is null ? "" : $" in '{_root}'")}, nor does its directory");
                ops.Add(new BindMount(b.Source, P(b.Destination), ro, b.Recursive, b.IgnoreIfMissing, missing && fresh));
            }
        }

        /// <summary>ProtectKernelTunables and ProtectControlGroups.</summary>
        private void KernelMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            if (_sbx.ProtectKernelTunables)
            {
                foreach (var p in new[] { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/acpi", "/sys" })
                    ops.Add(new RemountMount(P(p), ReadOnly: true, Optional: true));
                foreach (var p in new[] { "/proc/kallsyms", "/proc/kcore" })
                    ops.Add(new InaccessibleMount(P(p), Optional: true));
            }
            if (_sbx.ProtectControlGroups)
                ops.Add(new RemountMount(P("/sys/fs/cgroup"), ReadOnly: true, Optional: true));
        }

        private bool CheckPath(string key, OptionalPath p)
        {
            if (!Path.IsPathRooted(p.Path))
                throw Error(key, $"'{p.Path}' is not an absolute path");
            if (!p.IgnoreIfMissing && SandboxSection.FreshFileSystemAbove(Fresh, p.Path) is { } fresh && fresh != p.Path)
                throw Error(key, $"'{p.Path}' is under {fresh}, which {(fresh is "/tmp" or "/var/tmp" ? "PrivateTmp" : "the sandbox")} replaces with an empty tmpfs");
            if (SandboxSection.FreshFileSystemAbove(Fresh, p.Path) is { } hidden && hidden != p.Path)
                return false;
            if (Exists(P(p.Path)))
                return true;
            if (p.IgnoreIfMissing)
                return false;
            throw Error(key, $"'{p.Path}' does not exist{(_root is null ? "" : $" in '{_root}'")}");
        }
    }
}
