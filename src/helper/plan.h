/*
 * plan.h — the wire format of an ExecPlan and the status records, shared with C#.
 *
 * Every constant here is mirrored in src/Supervisor.Sandbox/HelperProtocol.cs, and the test
 * HelperProtocolTests.EveryConstantAgreesWithPlanH parses this file and compares both sides
 * (runc keeps nsexec.c and message_linux.go in step the same way). Values are part of the
 * protocol: never renumber or reuse one; add new ones at the end.
 *
 * Plan layout (host byte order, the helper and the supervisor run on the same machine):
 *   u32 PLAN_MAGIC, u32 PLAN_VERSION, then records { u32 tag, u32 length, length bytes }
 *   until a record with tag PLAN_TAG_END. Strings carry their terminating NUL inside the
 *   length and contain no other NUL, so the helper can point into the buffer.
 *
 * Status record (on the close-on-exec status pipe): four u32 { kind, step, errno, detail }.
 * A successful execve closes the pipe with no ERROR record written.
 */
#ifndef SUPERVISOR_PLAN_H
#define SUPERVISOR_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#define PLAN_MAGIC 0x31505653u   /* "SVP1" read as little-endian */
#define PLAN_VERSION 7u   /* 2: cgroup thread joins, keyring; 3: umask, exec-attr and mqueue ops, create/noexec/early/file flags; 4: process attributes, terminal; 5: listen fds; 6: landlock; 7: seccomp listener */

/* File descriptors the launcher places in the helper with posix_spawn file actions. */
#define PLAN_FD 3
#define STATUS_FD 4
/* Socket activation: the listening sockets arrive at LISTEN_FDS_FIRST.. and become the service's 3.. (listen.c). */
#define LISTEN_FDS_FIRST 5

/* Named limits: the plan comes from the supervisor, but the helper still refuses absurd sizes. */
#define PLAN_MAX_BYTES (4u * 1024u * 1024u)
#define PLAN_MAX_ARGS 4096
#define PLAN_MAX_ENV 4096
#define PLAN_MAX_GROUPS 256
#define PLAN_MAX_MOUNTS 1024
#define PLAN_MAX_RLIMITS 16
#define PLAN_MAX_CGROUPS 32
#define PLAN_MAX_LISTEN_FDS 8192
#define PLAN_MAX_LANDLOCK_RULES 1024 /* paths and ports together */

/* Record tags. */
#define PLAN_TAG_END 0
#define PLAN_TAG_PATH 1
#define PLAN_TAG_ARG 2
#define PLAN_TAG_ENV 3
#define PLAN_TAG_CWD 4
#define PLAN_TAG_IDENTITY 5     /* u32 uid, u32 gid, u32 count, u32 groups[count] */
#define PLAN_TAG_NSFLAGS 6      /* u32, CLONE_NEW* bits */
#define PLAN_TAG_NETNS_PATH 7
#define PLAN_TAG_UID_MAP 8      /* string in /proc/PID/uid_map syntax */
#define PLAN_TAG_GID_MAP 9
#define PLAN_TAG_HOSTNAME 10
#define PLAN_TAG_MOUNT 11       /* u32 op, u32 flags, u32 mode, then 3 x (u32 len, string): src, dst, data */
#define PLAN_TAG_RLIMIT 12      /* u32 resource, u32 zero, u64 soft, u64 hard */
#define PLAN_TAG_CAPS 13        /* u64 bounding, permitted, effective, inheritable, ambient */
#define PLAN_TAG_SECUREBITS 14  /* u32 */
#define PLAN_TAG_FLAGS 15       /* u32, PLAN_FLAG_* */
#define PLAN_TAG_LSM 16         /* u32 kind, u32 skip_if_unavailable, string label */
#define PLAN_TAG_SECCOMP 17     /* struct sock_filter[] bytes */
#define PLAN_TAG_CGROUP_PROCS 18 /* string: a cgroup file to write our pid to (cgroup.procs) */
#define PLAN_TAG_CGROUP_THREAD 19 /* string: a cgroup file to write "0" to, moving the writing thread */
#define PLAN_TAG_KEYRING 20     /* u32 KEYRING_MODE_*; no record is KEYRING_MODE_INHERIT */
#define PLAN_TAG_UMASK 21       /* u32, 0 to 0777; no record keeps the supervisor's umask */
#define PLAN_TAG_PROCATTR 22    /* u32 PROCATTR_* set, i32 nice, u32 policy, u32 priority, u32 ioprio, i32 oom_score_adj (procattr.c) */
#define PLAN_TAG_TTY 23         /* u32 TTY_MODE_*: make fd 0, a terminal, the controlling one (stdio.c) */
#define PLAN_TAG_LISTEN_FDS 24  /* u32 count of listening sockets at LISTEN_FDS_FIRST.. (sd_listen_fds protocol) */
#define PLAN_TAG_INIT_REPORT 25 /* u32 fd: the pid-namespace init reports every process it reaps there and outlives
                                 * the service while the namespace has processes (Type=forking); no record: the
                                 * init exits with the service (init.c) */
#define PLAN_TAG_LANDLOCK 26    /* u64 handled_access_fs, u64 handled_access_net, u64 scoped: the ruleset (landlock.c) */
#define PLAN_TAG_LANDLOCK_PATH 27 /* u64 allowed_access, u32 LANDLOCK_PATH_* flags, string path as the service sees it */
#define PLAN_TAG_LANDLOCK_PORT 28 /* u64 allowed_access, u64 TCP port */
#define PLAN_TAG_SECCOMP_NOTIFY 29 /* u32 fd: a unix socket; the filter is loaded with a listener, which is sent there
                                  * (SCM_RIGHTS) once the service has exec'd (seccomp.c) */

/* Namespace flags are the kernel's CLONE_NEW* values (ABI-stable); static_asserts in ns.c. */
#define PLAN_NS_TIME 0x00000080u
#define PLAN_NS_MOUNT 0x00020000u
#define PLAN_NS_CGROUP 0x02000000u
#define PLAN_NS_UTS 0x04000000u
#define PLAN_NS_IPC 0x08000000u
#define PLAN_NS_USER 0x10000000u
#define PLAN_NS_PID 0x20000000u
#define PLAN_NS_NET 0x40000000u

#define PLAN_FLAG_NO_NEW_PRIVS 0x1u
#define PLAN_FLAG_LOOPBACK_UP 0x2u

#define LANDLOCK_PATH_OPTIONAL 0x1u /* "-": a path that does not exist is skipped */

/* Mount operations, applied in plan order (bubblewrap's SETUP_* list is the model). */
#define MOUNT_OP_BIND 1          /* src -> dst; flags RO/RECURSIVE/OPTIONAL */
#define MOUNT_OP_REMOUNT 2       /* dst made read-only (flag RO) or read-write; RECURSIVE, OPTIONAL */
#define MOUNT_OP_TMPFS 3         /* tmpfs at dst with mode and data options */
#define MOUNT_OP_PROC 4          /* new proc instance at dst with data options (hidepid=...) */
#define MOUNT_OP_INACCESSIBLE 5  /* dst covered by an empty mode-000 node; OPTIONAL */
#define MOUNT_OP_MINIMAL_DEV 6   /* tmpfs /dev with null zero full random urandom tty, pts, shm */
#define MOUNT_OP_MKDIR 7         /* mkdir dst with mode (or an empty file: FILE), existing is fine */
#define MOUNT_OP_PIVOT_ROOT 8    /* pivot_root into dst and detach the old root */
#define MOUNT_OP_EXEC_ATTR 9     /* dst made noexec (flag NOEXEC) or exec; RECURSIVE, OPTIONAL */
#define MOUNT_OP_MQUEUE 10       /* new mqueue instance at dst (it shows the IPC namespace we are in); OPTIONAL, CREATE */

#define MOUNT_FLAG_READ_ONLY 0x1u
#define MOUNT_FLAG_RECURSIVE 0x2u
#define MOUNT_FLAG_OPTIONAL 0x4u
#define MOUNT_FLAG_CREATE 0x8u    /* dst missing: create it and its parents (a directory, or a file for a non-directory source) */
#define MOUNT_FLAG_NOEXEC 0x10u   /* tmpfs: noexec; exec-attr: set noexec (clear it without the flag) */
#define MOUNT_FLAG_EARLY 0x20u    /* proc: made before the namespaces, in the host's user namespace (see mount.c) */
#define MOUNT_FLAG_FILE 0x40u     /* mkdir: an empty file instead of a directory (a mount point for a non-directory) */

/* Which fields of a PROCATTR record are set (procattr.c); the others are left as inherited. */
#define PROCATTR_NICE 0x1u
#define PROCATTR_SCHED 0x2u          /* sched_setscheduler(policy, priority) */
#define PROCATTR_RESET_ON_FORK 0x4u  /* with SCHED: SCHED_RESET_ON_FORK */
#define PROCATTR_IOPRIO 0x8u         /* ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio) */
#define PROCATTR_OOM_SCORE_ADJ 0x10u
#define PROCATTR_IGNORE_SIGPIPE 0x20u

/* How fd 0, a terminal, becomes the service's controlling terminal (stdio.c). */
#define TTY_MODE_NONE 0   /* stdin is no terminal, or it is not made the controlling one */
#define TTY_MODE_TRY 1    /* StandardInput=tty: take it if no other session has it */
#define TTY_MODE_FORCE 2  /* tty-force: take it from whichever session has it */
#define TTY_MODE_FAIL 3   /* tty-fail: fail when another session has it */

/* The session keyring the service gets (keyring.c). */
#define KEYRING_MODE_INHERIT 0  /* the supervisor's */
#define KEYRING_MODE_PRIVATE 1  /* a new, empty one */
#define KEYRING_MODE_SHARED 2   /* a new one with the service user's user keyring linked in */

#define LSM_KIND_APPARMOR 1
#define LSM_KIND_SELINUX 2

/* Status record kinds. */
#define STATUS_KIND_ERROR 1       /* step, errno, detail: setup failed, the helper exits */
#define STATUS_KIND_CHILD_PID 2   /* detail: host pid of the process the supervisor now owns */
#define STATUS_KIND_LSM_SKIPPED 3 /* detail: LSM kind that was not enabled and was skipped */
#define STATUS_KIND_NOTIFY_SENDER 4 /* detail: host pid of the process that sends the seccomp listener; the supervisor
                                    * is its parent and reaps it (written only outside a pid namespace) */

/*
 * Setup steps, in the order main.c runs them. Stable: never renumber or reuse (systemd's
 * exit-status.h rule); add new steps at the end.
 */
/* 0 is never written by the helper: the launcher uses it when posix_spawn itself fails. */
#define STEP_START_HELPER 0
#define STEP_READ_PLAN 1
#define STEP_SETSID 2
#define STEP_CGROUP_JOIN 3
#define STEP_NETNS_JOIN 4
#define STEP_UNSHARE 5
#define STEP_CLONE 6
#define STEP_USERNS_MAP 7
#define STEP_MOUNT_PRIVATE 8
#define STEP_MOUNT 9
#define STEP_PIVOT_ROOT 10
#define STEP_HOSTNAME 11
#define STEP_LOOPBACK 12
#define STEP_RLIMIT 13
#define STEP_CAP_BOUNDING 14
#define STEP_SECUREBITS 15
#define STEP_SETGROUPS 16
#define STEP_SETGID 17
#define STEP_SETUID 18
#define STEP_CAPSET 19
#define STEP_CAP_AMBIENT 20
#define STEP_CHDIR 21
#define STEP_NO_NEW_PRIVS 22
#define STEP_LSM_NOT_ENABLED 23
#define STEP_LSM_EXEC_LABEL 24
#define STEP_SECCOMP 25
#define STEP_EXEC 26
#define STEP_FORK_SERVICE 27
#define STEP_TIME_NAMESPACE 28
#define STEP_INIT_SIGNALS 29
#define STEP_KEYRING 30
#define STEP_KEYRING_LINK_USER 31
#define STEP_NICE 32
#define STEP_SCHED 33
#define STEP_IOPRIO 34
#define STEP_OOM_SCORE_ADJ 35
#define STEP_SIGPIPE 36
#define STEP_TTY 37
#define STEP_LISTEN_FDS 38
#define STEP_LANDLOCK_RULESET 39  /* landlock_create_ruleset */
#define STEP_LANDLOCK_PATH 40     /* detail: index of the path rule (open or landlock_add_rule) */
#define STEP_LANDLOCK_PORT 41     /* detail: index of the port rule */
#define STEP_LANDLOCK_RESTRICT 42 /* landlock_restrict_self */
#define STEP_SECCOMP_NOTIFY 43    /* the process that sends the seccomp listener could not be started */

struct plan_mount {
    uint32_t op, flags, mode;
    const char *src, *dst, *data;
};

/* One cgroup join, in plan order: PATH gets our pid, or "0" (the calling thread) if THREAD. */
struct plan_cgroup {
    int thread;
    const char *path;
};

struct plan_rlimit {
    uint32_t resource;
    uint64_t soft, hard;
};

struct plan_landlock_rule {
    uint64_t access;
    uint32_t flags;   /* LANDLOCK_PATH_* (paths only) */
    uint64_t port;    /* ports only */
    const char *path; /* paths only; NULL for a port */
};

struct plan {
    unsigned char *buffer; /* plan_read's buffer, which every string points into */
    uint32_t seen_tags;    /* bit per tag already read, for the records that may appear once */
    const char *path;
    const char *argv[PLAN_MAX_ARGS + 1];
    size_t argc;
    const char *envp[PLAN_MAX_ENV + 1];
    size_t envc;
    const char *cwd;
    int has_identity;
    uint32_t uid, gid;
    uint32_t groups[PLAN_MAX_GROUPS];
    size_t ngroups;
    uint32_t nsflags;
    const char *netns_path;
    const char *uid_map, *gid_map;
    const char *hostname;
    struct plan_mount mounts[PLAN_MAX_MOUNTS];
    size_t nmounts;
    struct plan_rlimit rlimits[PLAN_MAX_RLIMITS];
    size_t nrlimits;
    int has_caps;
    uint64_t cap_bounding, cap_permitted, cap_effective, cap_inheritable, cap_ambient;
    int has_securebits;
    uint32_t securebits;
    uint32_t flags;
    uint32_t lsm_kind, lsm_skip_if_unavailable;
    const char *lsm_label;
    const unsigned char *seccomp;
    size_t seccomp_len;
    struct plan_cgroup cgroups[PLAN_MAX_CGROUPS];
    size_t ncgroups;
    uint32_t keyring_mode;
    int has_umask;
    uint32_t umask;
    uint32_t procattr_set;  /* PROCATTR_* */
    int32_t nice;
    uint32_t sched_policy, sched_priority, ioprio;
    int32_t oom_score_adj;
    uint32_t tty_mode;      /* TTY_MODE_* */
    uint32_t listen_fds;
    int32_t init_report_fd; /* -1: none */
    int32_t seccomp_notify_fd; /* -1: none */
    int has_landlock;
    uint64_t landlock_fs, landlock_net, landlock_scoped;
    struct plan_landlock_rule landlock_rules[PLAN_MAX_LANDLOCK_RULES]; /* paths and ports, in plan order */
    size_t nlandlock_rules;
};

/* plan.c */
int plan_read(int fd, struct plan *plan);   /* 0 or -errno: reads to EOF, then plan_decode */
int plan_decode(const unsigned char *buf, size_t len, struct plan *plan); /* 0 or -errno; points into buf */
void plan_free(struct plan *plan);          /* frees plan_read's buffer */
void plan_dump(const struct plan *plan, FILE *out);

/* status reporting (main.c); status_fd starts as STATUS_FD and moves when listen.c needs fd 4 */
extern int status_fd;
void status_write(uint32_t kind, uint32_t step, int err, uint32_t detail);
_Noreturn void fail(uint32_t step, int err, uint32_t detail);

/* one whole write() of a kernel file, then close (fileio.c) */
int write_fd_once(int fd, const char *text, size_t len);
int write_file_once(const char *path, const char *text);

/* one file per mechanism */
int cgroup_join(const struct plan *plan, uint32_t *failed_index);            /* cgroup.c */
int ns_join_netns(const char *path);                                           /* ns.c */
int ns_write_id_maps(pid_t pid, const struct plan *plan);                      /* ns.c */
int ns_set_hostname(const char *hostname);                                     /* ns.c */
int net_loopback_up(void);                                                     /* net.c */
int mount_prepare_early(const struct plan *plan, size_t *failed);              /* mount.c */
int mount_make_private(void);                                                  /* mount.c */
int mount_prepare_sources(const struct plan *plan);                            /* mount.c */
int mount_apply(const struct plan_mount *m, size_t index, uint32_t *step);     /* mount.c */
int mount_seal(const struct plan *plan, size_t *failed);                       /* mount.c */
int keyring_setup(const struct plan *plan, uint32_t *step);                    /* keyring.c */
int listen_fds_install(struct plan *plan);                                     /* listen.c */
void listen_fds_close(const struct plan *plan);                                /* listen.c */
int caps_drop_bounding(uint64_t keep, uint32_t *failed_cap);                   /* caps.c */
int caps_prepare_uid_switch(const struct plan *plan);                          /* caps.c */
int caps_apply(const struct plan *plan, uint32_t *step, uint32_t *failed_cap); /* caps.c */
int lsm_enabled(uint32_t kind);                                                /* lsm.c */
int lsm_set_exec_label(uint32_t kind, const char *label);                      /* lsm.c */
int seccomp_load(const unsigned char *bpf, size_t len);                        /* seccomp.c */
_Noreturn void seccomp_load_notify_exec(const struct plan *plan);               /* seccomp.c; fails through fail() */
int landlock_prepare(const struct plan *plan);                                 /* landlock.c; ruleset fd, fails through fail() */
int landlock_restrict(int ruleset_fd);                                         /* landlock.c */
/* What the init writes on its report fd for every process it reaps (native byte order, one write). */
struct init_report {
    int32_t pid;      /* in the namespace */
    int32_t status;   /* waitpid(2)'s status word */
    uint32_t flags;   /* INIT_REPORT_SERVICE: the process the helper started */
};
#define INIT_REPORT_SERVICE 1u
_Noreturn void init_run(pid_t service, const sigset_t *forwarded, int report_fd); /* init.c */
void procattr_apply(const struct plan *plan);                                  /* procattr.c; fails through fail() */
void stdio_acquire_tty(const struct plan *plan);                               /* stdio.c; fails through fail() */

#endif
