/*
 * supervisor-helper — carries out one ExecPlan and execs the service.
 *
 * .NET is multi-threaded, and a multi-threaded process can neither run code between fork and
 * exec nor unshare(CLONE_NEWNS|CLONE_NEWUSER). So the supervisor posix_spawns this helper with
 * the plan on fd PLAN_FD and a close-on-exec status pipe on fd STATUS_FD (plan.h). The helper
 * has no policy: every decision is in the plan. main() is the fixed order of DESIGN.md §3;
 * any failure writes (step, errno, detail) to the status pipe and _exits, and a successful
 * execve closes the pipe with nothing written.
 *
 * Process shapes:
 *  - no pid and no user namespace: this process does every step and becomes the service.
 *  - pid or user namespace: this process clones a child with CLONE_PARENT (the child's parent
 *    is the supervisor, which then owns and reaps it), reports the child's pid, writes the
 *    user-namespace maps from outside (only the parent namespace may write arbitrary maps),
 *    releases the child and exits. With a pid namespace the child is PID 1 there: it sets up
 *    the mounts, forks the service and stays as a tiny init (init.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "plan.h"

/* Static: the plan holds fixed-size arrays too big for the stack. */
static struct plan plan;

int status_fd = STATUS_FD;

void status_write(uint32_t kind, uint32_t step, int err, uint32_t detail)
{
    uint32_t rec[4] = { kind, step, (uint32_t)err, detail };
    /* 16 bytes < PIPE_BUF, so the write is atomic; nothing useful can be done if it fails. */
    ssize_t r;
    do
        r = write(status_fd, rec, sizeof rec);
    while (r < 0 && errno == EINTR);
}

_Noreturn void fail(uint32_t step, int err, uint32_t detail)
{
    status_write(STATUS_KIND_ERROR, step, err, detail);
    _exit(127);
}

static int dump_plan(void)
{
    int r = plan_read(STDIN_FILENO, &plan);
    if (r < 0) {
        fprintf(stderr, "supervisor-helper: cannot read plan: %s\n", strerror(-r));
        return 1;
    }
    plan_dump(&plan, stdout);
    return 0;
}

/* Everything after the namespaces exist: the steps that shape what the service sees. */
static void setup_view(void)
{
    /* Private propagation first, or every mount below would propagate back to the host. */
    if ((plan.nsflags & PLAN_NS_MOUNT) && mount_make_private() < 0)
        fail(STEP_MOUNT_PRIVATE, errno, 0);
    mount_prepare_sources(&plan);
    /* pivot_root is last; the read-only tmpfs mounts are sealed just before it, once every
     * mount point inside them exists. */
    size_t n = plan.nmounts, failed = 0;
    int pivot = n > 0 && plan.mounts[n - 1].op == MOUNT_OP_PIVOT_ROOT;
    for (size_t i = 0; i < n; i++) {
        uint32_t step = STEP_MOUNT;
        if (pivot && i == n - 1 && mount_seal(&plan, &failed) < 0)
            fail(STEP_MOUNT, errno, (uint32_t)failed);
        if (mount_apply(&plan.mounts[i], i, &step) < 0)
            fail(step, errno, (uint32_t)i);
    }
    if (!pivot && mount_seal(&plan, &failed) < 0)
        fail(STEP_MOUNT, errno, (uint32_t)failed);
    if (plan.hostname && ns_set_hostname(plan.hostname) < 0)
        fail(STEP_HOSTNAME, errno, 0);
    /* A new network namespace starts with lo down; services expect 127.0.0.1 to work. */
    if ((plan.flags & PLAN_FLAG_LOOPBACK_UP) && net_loopback_up() < 0)
        fail(STEP_LOOPBACK, errno, 0);
}

/* The last steps, in the process that becomes the service. Never returns. */
static _Noreturn void become_service(int lsm_available)
{
    uint32_t step, detail = 0;

    /* First: the sockets move to 3.. while every fd number is still allowed (a low LimitNOFILE
     * would refuse the high temporaries), and LISTEN_PID is this process, the service. */
    if (listen_fds_install(&plan) < 0)
        fail(STEP_LISTEN_FDS, errno, plan.listen_fds);

    procattr_apply(&plan);
    /* The view is final, and the helper is still root: open the Landlock paths now (before a
     * low LimitNOFILE and before the uid switch), restrict just before seccomp. */
    int landlock_fd = landlock_prepare(&plan);
    for (size_t i = 0; i < plan.nrlimits; i++) {
        struct rlimit rl = { plan.rlimits[i].soft, plan.rlimits[i].hard };
        if (setrlimit((int)plan.rlimits[i].resource, &rl) < 0)
            fail(STEP_RLIMIT, errno, plan.rlimits[i].resource);
    }
    /* The bounding set needs CAP_SETPCAP, which a non-root user no longer has: drop it first. */
    if (plan.has_caps && caps_drop_bounding(plan.cap_bounding, &detail) < 0)
        fail(STEP_CAP_BOUNDING, errno, detail);
    /* KEEP_CAPS (and the declared securebits) must be set before the uid changes. */
    if (caps_prepare_uid_switch(&plan) < 0)
        fail(STEP_SECUREBITS, errno, 0);
    if (plan.has_identity) {
        if (setgroups(plan.ngroups, (const gid_t *)plan.groups) < 0)
            fail(STEP_SETGROUPS, errno, 0);
        if (setresgid(plan.gid, plan.gid, plan.gid) < 0)
            fail(STEP_SETGID, errno, plan.gid);
        if (setresuid(plan.uid, plan.uid, plan.uid) < 0)
            fail(STEP_SETUID, errno, plan.uid);
    }
    /* The uid switch cleared the effective set; now set all five sets exactly as declared. */
    if (caps_apply(&plan, &step, &detail) < 0)
        fail(step, errno, detail);
    /* After the uid switch, so a directory only the service user may enter still works. */
    if (plan.cwd && chdir(plan.cwd) < 0)
        fail(STEP_CHDIR, errno, 0);
    /* Late, so the helper's own mount points and keyring are made with the supervisor's mask;
     * umask(2) cannot fail. */
    if (plan.has_umask)
        umask((mode_t)plan.umask);
    if ((plan.flags & PLAN_FLAG_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(STEP_NO_NEW_PRIVS, errno, 0);
    if (plan.lsm_label) {
        if (lsm_available) {
            if (lsm_set_exec_label(plan.lsm_kind, plan.lsm_label) < 0)
                fail(STEP_LSM_EXEC_LABEL, errno, plan.lsm_kind);
        } else if (plan.lsm_skip_if_unavailable) {
            status_write(STATUS_KIND_LSM_SKIPPED, STEP_LSM_NOT_ENABLED, 0, plan.lsm_kind);
        } else {
            fail(STEP_LSM_NOT_ENABLED, EOPNOTSUPP, plan.lsm_kind);
        }
    }
    if (landlock_fd >= 0 && landlock_restrict(landlock_fd) < 0)
        fail(STEP_LANDLOCK_RESTRICT, errno, 0);
    /* "This really should remain the last step before the execve()" (systemd): every call
     * after it must pass the service's own filter. With a listener, the filter and the execve
     * are one step (seccomp.c). */
    if (plan.seccomp_notify_fd >= 0)
        seccomp_load_notify_exec(&plan);
    if (plan.seccomp && seccomp_load(plan.seccomp, plan.seccomp_len) < 0)
        fail(STEP_SECCOMP, errno, 0);
    execve(plan.path, (char *const *)plan.argv, (char *const *)plan.envp);
    fail(STEP_EXEC, errno, 0);
}

/*
 * Clone the namespaced child. CLONE_PARENT makes the supervisor its parent, so this helper
 * can exit and the supervisor waits on the child with a pidfd. Returns in the child only.
 */
static void clone_child(void)
{
    int sync[2];
    char go;
    if (pipe2(sync, O_CLOEXEC) < 0)
        fail(STEP_CLONE, errno, 0);
    /* CLONE_NEWTIME cannot go through clone(): its bit is in the exit-signal byte. */
    unsigned long flags = CLONE_PARENT | SIGCHLD | (plan.nsflags & ~PLAN_NS_TIME);
    long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid < 0)
        fail(STEP_CLONE, errno, 0);
    if (pid > 0) {
        status_write(STATUS_KIND_CHILD_PID, 0, 0, (uint32_t)pid);
        if ((plan.nsflags & PLAN_NS_USER) && ns_write_id_maps((pid_t)pid, &plan) < 0) {
            int e = errno;
            /* The child waits on the sync pipe; killing it leaves nothing half-started. */
            kill((pid_t)pid, SIGKILL);
            fail(STEP_USERNS_MAP, e, 0);
        }
        if (write(sync[1], "g", 1) != 1) {
            int e = errno;
            kill((pid_t)pid, SIGKILL);
            fail(STEP_CLONE, e, 0);
        }
        _exit(0);
    }
    close(sync[1]);
    /* EOF means the parent failed and already reported why. */
    if (read(sync[0], &go, 1) != 1)
        _exit(127);
    close(sync[0]);
    /* Our host ids mean nothing in a new user namespace (files we create would have no owner
     * there, and tmpfs refuses them with EOVERFLOW): become its root before building the view,
     * as the uid switch would later anyway. */
    if ((plan.nsflags & PLAN_NS_USER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        fail(STEP_USERNS_MAP, errno, 0);
}

/* Joins what exists (cgroups, a named netns) and creates the namespaces. */
static void enter_namespaces(void)
{
    /* Join the cgroups before anything else, so every process and every byte is accounted. */
    uint32_t index = 0;
    if (cgroup_join(&plan, &index) < 0)
        fail(STEP_CGROUP_JOIN, errno, index);
    /* Join the named netns while still in the host user namespace, which owns it. */
    if (plan.netns_path && ns_join_netns(plan.netns_path) < 0)
        fail(STEP_NETNS_JOIN, errno, 0);

    /* Before the namespaces: what must be made with the host user namespace's powers. */
    size_t failed = 0;
    if (mount_prepare_early(&plan, &failed) < 0)
        fail(STEP_MOUNT, errno, (uint32_t)failed);

    int cloned = (plan.nsflags & (PLAN_NS_PID | PLAN_NS_USER)) != 0;
    if (cloned) {
        clone_child();
        /* Time namespaces apply to children and to this process at its next execve. */
        if ((plan.nsflags & PLAN_NS_TIME) && unshare(CLONE_NEWTIME) < 0)
            fail(STEP_TIME_NAMESPACE, errno, 0);
    } else if (plan.nsflags && unshare((int)plan.nsflags) < 0) {
        fail(STEP_UNSHARE, errno, 0);
    }
}

/* In a pid namespace: fork the service and stay behind as its init. Returns in the service. */
static void fork_under_init(void)
{
    /* Block the forwarded signals and SIGCHLD before fork: a signal that arrives before
     * init_run waits is queued, not lost (blocked signals are never ignored, even for a
     * namespace's PID 1). */
    sigset_t forwarded, old;
    sigemptyset(&forwarded);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&forwarded, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &forwarded, &old) < 0)
        fail(STEP_INIT_SIGNALS, errno, 0);
    pid_t service = fork();
    if (service < 0)
        fail(STEP_FORK_SERVICE, errno, 0);
    if (service > 0) {
        close(STATUS_FD);
        /* The init must not keep the service's listening sockets open after the service ends. */
        listen_fds_close(&plan);
        init_run(service, &forwarded, plan.init_report_fd);
    }
    if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
        fail(STEP_INIT_SIGNALS, errno, 0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump-plan") == 0)
        return dump_plan();
    if (argc != 1) {
        fprintf(stderr, "usage: supervisor-helper (plan on fd %d, status on fd %d) | --dump-plan\n", PLAN_FD, STATUS_FD);
        return 2;
    }
    /* posix_spawn's dup2 cleared close-on-exec; set it again so only a failure writes here. */
    if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0)
        _exit(127);
    int r = plan_read(PLAN_FD, &plan);
    if (r < 0)
        fail(STEP_READ_PLAN, -r, 0);
    close(PLAN_FD);
    /* Nothing the supervisor leaked by accident may reach the service. */
    syscall(SYS_close_range, STATUS_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Ask before the mounts: the new root may have no /sys to look in. */
    int lsm_available = plan.lsm_label ? lsm_enabled(plan.lsm_kind) : 0;

    /* Own session: the service must not get the supervisor's terminal signals. */
    if (setsid() < 0)
        fail(STEP_SETSID, errno, 0);
    stdio_acquire_tty(&plan);
    enter_namespaces();
    setup_view();
    /* Before the fork (the namespace's init shares it) and before the uid switch (keyring.c). */
    uint32_t step = STEP_KEYRING;
    if (keyring_setup(&plan, &step) < 0)
        fail(step, errno, 0);
    if (plan.nsflags & PLAN_NS_PID)
        fork_under_init();
    become_service(lsm_available);
}
