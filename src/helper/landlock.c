/*
 * landlock.c — the service's Landlock ruleset (Documentation/userspace-api/landlock.rst).
 *
 * Two halves, because the paths are as the service sees them: landlock_prepare runs once the
 * mount namespace is final (after pivot_root) and before the uid switch, so every listed path
 * can be opened with O_PATH whatever its permissions; landlock_restrict runs right before the
 * seccomp filter is loaded, after no_new_privs, which landlock_restrict_self requires of a
 * process without CAP_SYS_ADMIN. The supervisor chose every right for this kernel's ABI; the
 * helper only adds one thing the kernel demands: a rule on a non-directory may carry only the
 * rights that apply to files (EINVAL otherwise).
 *
 * Debian 12's uapi <linux/landlock.h> is Linux 6.1's (ABI 2: no TRUNCATE, no network, no
 * scopes), so the structures and numbers are defined here, as the kernel's uapi has them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* uapi struct landlock_ruleset_attr, as of ABI 6; an older kernel takes a shorter prefix. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

/* uapi struct landlock_path_beneath_attr (packed) and struct landlock_net_port_attr. */
struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

/* The rights that make sense on a file (the kernel's ACCESS_FILE): EXECUTE, WRITE_FILE,
 * READ_FILE, TRUNCATE, IOCTL_DEV. */
#define LL_ACCESS_FILE ((1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 14) | (1ull << 15))

/* Adds one path rule; 0, or -1 with errno set. A missing optional path is skipped. */
static int add_path_rule(int ruleset, const struct plan_landlock_rule *rule)
{
    int fd = open(rule->path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT && (rule->flags & LANDLOCK_PATH_OPTIONAL) ? 0 : -1;
    struct stat st;
    struct ll_path_beneath_attr attr = { rule->access, fd };
    int r = fstat(fd, &st);
    if (r == 0 && !S_ISDIR(st.st_mode))
        attr.allowed_access &= LL_ACCESS_FILE;
    if (r == 0 && attr.allowed_access != 0)
        r = (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

/* Creates the ruleset and adds every rule; returns its fd, or -1 when the plan has none. */
int landlock_prepare(const struct plan *plan)
{
    if (!plan->has_landlock)
        return -1;
    struct ll_ruleset_attr attr = { plan->landlock_fs, plan->landlock_net, plan->landlock_scoped };
    /* The shortest prefix that holds what is asked: a kernel older than the structure refuses
     * fields it does not know unless they are left out. */
    size_t size = plan->landlock_scoped ? sizeof attr : plan->landlock_net ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0)
        fail(STEP_LANDLOCK_RULESET, errno, 0);
    uint32_t paths = 0, ports = 0;
    for (size_t i = 0; i < plan->nlandlock_rules; i++) {
        const struct plan_landlock_rule *rule = &plan->landlock_rules[i];
        if (rule->path) {
            if (add_path_rule(ruleset, rule) < 0)
                fail(STEP_LANDLOCK_PATH, errno, paths);
            paths++;
            continue;
        }
        struct ll_net_port_attr port = { rule->access, rule->port };
        if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &port, 0) < 0)
            fail(STEP_LANDLOCK_PORT, errno, ports);
        ports++;
    }
    return ruleset;
}

/* The service and everything it starts are confined from here on. */
int landlock_restrict(int ruleset_fd)
{
    int r = (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
    int e = errno;
    close(ruleset_fd);
    errno = e;
    return r;
}
