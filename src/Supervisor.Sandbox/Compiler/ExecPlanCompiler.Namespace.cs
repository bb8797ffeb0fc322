using System.Collections.Immutable;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

public static partial class ExecPlanCompiler
{
    /// <summary>The nobody user and group, mapped by PrivateUsers as systemd maps it.</summary>
    private const uint Nobody = 65534;

    /// <summary>
    /// systemd's namespace directives (PrivateNetwork, PrivateIPC, PrivateMounts, PrivatePIDs,
    /// PrivateUsers) and the parts of the view that come with them: TemporaryFileSystem,
    /// NoExecPaths/ExecPaths, a private /dev/mqueue, and the notify socket bound into every view.
    /// </summary>
    private sealed partial class Compilation
    {
        private IReadOnlyList<string>? _fresh;

        /// <summary>The fresh tmpfs mounts of this plan, as the service sees them (<see cref="SandboxSection.FreshFileSystems"/>).</summary>
        private IReadOnlyList<string> Fresh => _fresh ??= _sbx.FreshFileSystems(p => Exists(P(p)));

        private bool HasNamespaceViewSettings =>
            _sbx.NoExecPaths.Count > 0 || _sbx.ExecPaths.Count > 0 || _sbx.TemporaryFileSystem.Count > 0;

        /// <summary>The Private* switches, and what they imply: an IPC namespace gets its own /dev/mqueue, so a mount namespace.</summary>
        private NamespaceFlags PrivateNamespaces(NamespaceFlags f)
        {
            var n = _sbx.EffectiveNamespaces;
            if (n.HasFlag(Units.Model.Namespaces.Pid)) f |= NamespaceFlags.Pid;
            if (n.HasFlag(Units.Model.Namespaces.Net)) f |= NamespaceFlags.Net;
            if (n.HasFlag(Units.Model.Namespaces.Mount)) f |= NamespaceFlags.Mount;
            if (n.HasFlag(Units.Model.Namespaces.Ipc)) f |= NamespaceFlags.Ipc | NamespaceFlags.Mount;
            if (n.HasFlag(Units.Model.Namespaces.User)) f |= NamespaceFlags.User;
            return f;
        }

        /// <summary>
        /// The id maps of a user namespace. PrivateUsers (systemd's meaning): root, the service's
        /// uid and nobody map to themselves, and so do its gid and supplementary groups, which
        /// setgroups() needs mapped; every other id shows as nobody inside. Namespaces = ["user"]:
        /// ids 0..65535 shift to the unprivileged host range from <see cref="CompileContext.UserNamespaceBase"/>.
        /// </summary>
        private (ImmutableArray<IdMapEntry> Uid, ImmutableArray<IdMapEntry> Gid) UserMaps(NamespaceFlags ns, Identity? identity)
        {
            if ((ns & NamespaceFlags.User) == 0)
                return ([], []);
            if (!_sbx.PrivateUsers)
            {
                ImmutableArray<IdMapEntry> shifted = [new IdMapEntry(0, ctx.UserNamespaceBase, ctx.UserNamespaceSize)];
                return (shifted, shifted);
            }
            static ImmutableArray<IdMapEntry> Identity(IEnumerable<uint> ids) =>
                [.. ids.Distinct().Order().Select(id => new IdMapEntry(id, id, 1))];
            var uid = identity?.Uid ?? 0;
            var gids = identity is null ? [] : identity.SupplementaryGroups.Append(identity.Gid);
            return (Identity([0, uid, Nobody]), Identity([0, .. gids, Nobody]));
        }

        /// <summary>A new mqueue on /dev/mqueue for an IPC namespace (created in a private /dev; skipped where the host has none).</summary>
        private void MqueueMount(ImmutableArray<MountOperation>.Builder ops, NamespaceFlags ns)
        {
            if ((ns & NamespaceFlags.Ipc) == 0)
                return;
            bool fresh = Units.Model.SandboxSection.FreshFileSystemAbove(Fresh, "/dev/mqueue") is not null;
            ops.Add(new MqueueMount(P("/dev/mqueue"), Optional: !fresh, Create: fresh));
        }

        /// <summary>TemporaryFileSystem, outer paths first; a path missing on the host is created only inside an earlier fresh tmpfs.</summary>
        private void TemporaryFileSystems(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var t in _sbx.TemporaryFileSystemsInMountOrder)
            {
                bool create = !Exists(P(t.Path));
                if (create && Units.Model.SandboxSection.FreshFileSystemAbove([.. Fresh.TakeWhile(f => f != t.Path)], t.Path) is null)
                    throw Error("TemporaryFileSystem", $"'{t.Path}' does not exist{(_root is null ? "" : $" in '{_root}'")}");
                ops.Add(new TmpfsMount(P(t.Path), t.Mode, t.Data, t.ReadOnly, t.NoExec, create));
            }
        }

        /// <summary>
        /// NoExecPaths and ExecPaths, a path before the paths below it (systemd's order), so ExecPaths
        /// re-enables below a NoExecPaths entry. Paths are resolved in the view first ("/lib" on a
        /// merged-/usr system is the mount "/usr/lib"), so the plan, the kernel's mount table and
        /// inspect name the same mount.
        /// </summary>
        private void ExecAttributes(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var (p, noexec) in ExecAttributeEntries())
                if (CheckPath(noexec ? "NoExecPaths" : "ExecPaths", p))
                    ops.Add(new ExecAttributeMount(P(p.Path), noexec, Recursive: true, Optional: p.IgnoreIfMissing));
        }

        /// <summary>The entries with resolved paths; on one path, ExecPaths first, so NoExecPaths wins there as in systemd.</summary>
        private IEnumerable<(OptionalPath Path, bool NoExec)> ExecAttributeEntries() =>
            _sbx.NoExecPaths.Select(p => (p, true)).Concat(_sbx.ExecPaths.Select(p => (p, false)))
                .Select(e => (e.p with { Path = RealPathInView(e.p.Path) }, e.Item2))
                .DistinctBy(e => (e.Item1.Path, e.Item2))
                .OrderBy(e => Depth(e.Item1.Path)).ThenBy(e => e.Item1.Path, StringComparer.Ordinal).ThenBy(e => e.Item2);

        private static int Depth(string path) => path == "/" ? 0 : path.Count(c => c == '/');

        /// <summary>
        /// PATH with every symbolic link on the way resolved as the service will see it (inside
        /// RootDirectory, where an absolute link points into the root); a path that does not
        /// exist keeps its missing tail as written.
        /// </summary>
        private string RealPathInView(string path) => Supervisor.Linux.Files.RealPath.Resolve(path, _root);

        /// <summary>
        /// The program must be in the view and executable there: not inside a fresh tmpfs (unless a
        /// bind puts it there), not below a NoExecPaths entry that no ExecPaths entry lifts.
        /// </summary>
        private void CheckProgramInView(string program)
        {
            const string key = "ExecStart";
            program = RealPathInView(program);
            var bound = _sbx.BindPaths.Concat(_sbx.BindReadOnlyPaths).Any(b => Units.Model.SandboxSection.PathIsAtOrBelow(program, b.Destination));
            if (!bound && Units.Model.SandboxSection.FreshFileSystemAbove(Fresh, program) is { } fresh)
                throw Error(key, $"'{program}' is under '{fresh}', which the sandbox replaces with an empty tmpfs; the program would not be there");
            var last = ExecAttributeEntries().LastOrDefault(e => Units.Model.SandboxSection.PathIsAtOrBelow(program, e.Path.Path));
            if (last.Path is not null && last.NoExec)
                throw Error("NoExecPaths", $"the program '{program}' is below '{last.Path.Path}', where nothing can be executed; add the program or its directory to ExecPaths");
        }

        /// <summary>
        /// Missing mount points of binds outside any fresh tmpfs, in a directory that exists: made
        /// first, while nothing is read-only yet (systemd makes them too, as a directory or an
        /// empty file like the source). This touches the host's (or RootDirectory's) filesystem
        /// with one empty node, as Debian's haproxy unit expects for /var/lib/haproxy/dev/log.
        /// </summary>
        private void BindMountPoints(ImmutableArray<MountOperation>.Builder ops)
        {
            foreach (var b in _sbx.BindPaths.Concat(_sbx.BindReadOnlyPaths))
                if (MountPointMadeFirst(b))
                    ops.Add(Directory.Exists(b.Source) ? new MkdirOperation(P(b.Destination)) : new MkdirOperation(P(b.Destination), 0x1A4 /* 0644 */, File: true));
        }

        private bool MountPointMadeFirst(Units.Model.BindPath b) =>
            Exists(b.Source) && !Exists(P(b.Destination)) && Units.Model.SandboxSection.FreshFileSystemAbove(Fresh, b.Destination) is null &&
            Directory.Exists(P(Path.GetDirectoryName(b.Destination) ?? "/"));

        /// <summary>
        /// The notify socket, bound onto its own path in the view (systemd binds /run/systemd/notify
        /// the same way), where a mount of the plan would hide it: a fresh tmpfs (PrivateTmp with
        /// the supervisor's runtime directory under /tmp, TemporaryFileSystem) or a new root. Its
        /// mount point is created there; a path the unit makes inaccessible, or covers with a bind,
        /// cannot carry it and fails the start with the key to change.
        /// </summary>
        private void NotifySocketMount(ImmutableArray<MountOperation>.Builder ops)
        {
            if (ctx.NotifySocket is not { } socket)
                return;
            var target = P(socket);
            var cover = ops.LastOrDefault(o => TargetOf(o) is { } t && Units.Model.SandboxSection.PathIsAtOrBelow(target, t));
            switch (cover)
            {
                case null when _root is null:
                    return; // nothing hides it: the host's socket is there as it is
                case InaccessibleMount:
                    throw Error("InaccessiblePaths", $"makes the notify socket '{socket}' unreachable; the service could not report READY=1");
                case BindMount b:
                    throw Error(b.ReadOnly ? "BindReadOnlyPaths" : "BindPaths", $"'{b.Source}' on '{b.Target}' covers the notify socket '{socket}'; the service could not report READY=1");
            }
            ops.Add(new BindMount(socket, target, ReadOnly: true, Recursive: false, Create: true));
        }

        private static string? TargetOf(MountOperation op) => op switch
        {
            TmpfsMount t => t.Target,
            MinimalDevMount d => d.Target,
            InaccessibleMount i => i.Path,
            BindMount b => b.Target,
            _ => null,
        };
    }
}
