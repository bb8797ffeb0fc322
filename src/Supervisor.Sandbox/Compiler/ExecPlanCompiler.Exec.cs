using System.Collections.Immutable;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// The exec prefixes that change the sandbox of one command (systemd.service(5) "COMMAND LINES"),
/// and the environment keys PassEnvironment and UnsetEnvironment (systemd.exec(5) "ENVIRONMENT").
///  - "+": the command runs with full privileges: no namespace, mount, RootDirectory, seccomp,
///    capability drop, securebits, NoNewPrivileges, user change or LSM label. What stays is what
///    systemd keeps too: the unit's cgroup, environment, working directory, resource limits, umask,
///    session keyring and output.
///  - "!": no user or group change (the command runs as root, or as the user namespace's root);
///    every other part of the sandbox applies, so it sees the service's mount view.
///  - "!!": "!" only where the kernel lacks ambient capabilities; every kernel this runs on has
///    them, so the plan is the one without a prefix.
/// </summary>
public static partial class ExecPlanCompiler
{
    private sealed partial class Compilation
    {
        /// <summary>The plan of a "+" command: the program as the host sees it, the unit's cgroup, nothing of the sandbox.</summary>
        private ExecPlan FullyPrivileged(Command exec)
        {
            _root = null;
            string program = exec.Program;
            if (!Path.IsPathRooted(program))
                throw Error("ExecStart", $"'{program}' is not an absolute path");
            if (!File.Exists(program))
                throw Error("ExecStart", $"'{program}' does not exist");
            // The user is still looked up: $USER, $HOME and "~" as WorkingDirectory are the unit's (systemd sets them for "+" too).
            var (_, user) = Identity(NamespaceFlags.None);
            return new ExecPlan
            {
                Path = program,
                Argv = [.. exec.Argv],
                Environment = Environment(user),
                WorkingDirectory = WorkingDirectory(user),
                ResourceLimits = Limits(),
                CgroupJoins = CgroupJoinPlanner.For(ctx.CgroupProcsFiles),
                Keyring = KeyringOf(),
                UMask = _sbx.UMask,
                Stdio = ctx.Stdio,
            };
        }

        /// <summary>
        /// The command's identity and the unit's user (for $USER, $HOME). "!" keeps root: in a user
        /// namespace its root, since the creator's host uid would be unmapped there.
        /// </summary>
        private (Identity? Identity, UserEntry? User) IdentityFor(Command exec, NamespaceFlags ns)
        {
            var (identity, user) = Identity(ns);
            if (exec.Flags.HasFlag(ExecFlags.NoUserChange))
                identity = (ns & NamespaceFlags.User) != 0 ? new Identity(0, 0, []) : null;
            return (identity, user);
        }

        /// <summary>
        /// PassEnvironment: the supervisor's own variables, before Environment and EnvironmentFile,
        /// which override them (systemd merges them in that order). A name that is not set is skipped.
        /// </summary>
        private void PassEnvironment(IDictionary<string, string> env)
        {
            foreach (var name in _svc.PassEnvironment)
                if (System.Environment.GetEnvironmentVariable(name) is { } value)
                    env[name] = value;
        }

        /// <summary>UnsetEnvironment, last: "NAME" removes the variable, "NAME=VALUE" only that assignment.</summary>
        private void UnsetEnvironment(IDictionary<string, string> env)
        {
            foreach (var entry in _svc.UnsetEnvironment)
            {
                int eq = entry.IndexOf('=');
                if (eq < 0) env.Remove(entry);
                else if (env.TryGetValue(entry[..eq], out var v) && v == entry[(eq + 1)..]) env.Remove(entry[..eq]);
            }
        }
    }
}
