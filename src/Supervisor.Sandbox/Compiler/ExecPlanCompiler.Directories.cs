using System.Collections.Immutable;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// The per-unit directories (RuntimeDirectory, StateDirectory, CacheDirectory, LogsDirectory,
/// ConfigurationDirectory) and the credentials directory in the plan: their variables in the
/// environment, and their place in the filesystem view. The runtime creates them on the host
/// before each command (Supervisor.Runtime/Directories); the plan only points at them.
/// </summary>
public static partial class ExecPlanCompiler
{
    /// <summary>Mode of the tmpfs that stands in for an InaccessiblePaths entry above a managed directory: traversable, not listable (0111).</summary>
    private const uint TraverseOnlyMode = 0x49;

    private sealed partial class Compilation
    {
        /// <summary>
        /// $RUNTIME_DIRECTORY … $CONFIGURATION_DIRECTORY (each entry's absolute path, colon-separated)
        /// and $CREDENTIALS_DIRECTORY. Set before Environment= and EnvironmentFile, which may
        /// override them, as in systemd (its own variables are merged first).
        /// </summary>
        private void DirectoryEnvironment(IDictionary<string, string> env)
        {
            foreach (var type in ExecDirectoryType.All)
            {
                var entries = _svc.DirectoriesOf(type.Kind);
                if (entries.Count > 0)
                    env[type.EnvironmentVariable] = string.Join(':', entries.Select(type.PathOf));
            }
            if (_svc.HasCredentials)
                env["CREDENTIALS_DIRECTORY"] = ServiceSection.CredentialsDirectoryOf(unit.Name);
        }

        /// <summary>
        /// Each managed directory bound onto itself in the view, read-write (ConfigurationDirectory
        /// and the credentials read-only), after ProtectSystem, the path lists and the binds: so they
        /// stay writable under ProtectSystem="strict" and a ReadOnlyPaths parent, as systemd's
        /// implied BindPaths make them. A bind's source is taken from the host before any step
        /// runs, so a fresh tmpfs (TemporaryFileSystem, a new root) above one gets the mount point
        /// made inside it; an InaccessiblePaths entry above one becomes a read-only, empty tmpfs of
        /// mode 0111 (nothing in it can be listed) that carries only the mount points of the
        /// directories below it. The binds are optional: `supervisor exec` runs a command without
        /// the daemon having created them.
        /// </summary>
        private void ExecDirectoryMounts(ImmutableArray<MountOperation>.Builder ops)
        {
            var binds = _svc.ManagedDirectories()
                .Select(d => (d.Path, ReadOnly: d.Type.Kind == ExecDirectoryKind.Configuration))
                .ToList();
            if (_svc.HasCredentials)
                binds.Add((ServiceSection.CredentialsDirectoryOf(unit.Name), true));
            foreach (var (path, readOnly) in binds)
            {
                var target = P(path);
                int cover = LastCover(ops, target);
                if (cover >= 0 && ops[cover] is InaccessibleMount hidden)
                {
                    ops[cover] = new TmpfsMount(hidden.Path, TraverseOnlyMode, ReadOnly: true);
                }
                bool create = cover >= 0 && ops[cover] is TmpfsMount or MinimalDevMount || _root is not null;
                if (_root is not null)
                    ops.Insert(0, new MkdirOperation(target));
                ops.Add(new BindMount(path, target, readOnly, Recursive: true, Optional: true, Create: create));
            }
        }

        /// <summary>The index of the last operation whose mount hides TARGET (a tmpfs, an inaccessible path, a bind above it), or -1.</summary>
        private static int LastCover(ImmutableArray<MountOperation>.Builder ops, string target)
        {
            for (int i = ops.Count - 1; i >= 0; i--)
                if (TargetOf(ops[i]) is { } t && Units.Model.SandboxSection.PathIsAtOrBelow(target, t) && t != target)
                    return i;
            return -1;
        }
    }
}
