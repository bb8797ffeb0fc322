/*
 * ns.c — namespaces: join a named network namespace, write user-namespace id maps, hostname.
 * The namespaces themselves are created in main.c with unshare() or clone() flags, which are
 * the kernel's CLONE_NEW* values (checked below against plan.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

_Static_assert(PLAN_NS_TIME == CLONE_NEWTIME, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_MOUNT == CLONE_NEWNS, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_CGROUP == CLONE_NEWCGROUP, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_UTS == CLONE_NEWUTS, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_IPC == CLONE_NEWIPC, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_USER == CLONE_NEWUSER, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_PID == CLONE_NEWPID, "plan.h namespace bits are the kernel's");
_Static_assert(PLAN_NS_NET == CLONE_NEWNET, "plan.h namespace bits are the kernel's");

int ns_join_netns(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/*
 * Written by the helper in the parent user namespace: only a process with CAP_SETUID there may
 * map more than its own uid, and the child is waiting for this before it does anything.
 */
int ns_write_id_maps(pid_t pid, const struct plan *plan)
{
    char path[64];
    if (plan->uid_map) {
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
        if (write_file_once(path, plan->uid_map) < 0)
            return -1;
    }
    if (plan->gid_map) {
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
        if (write_file_once(path, plan->gid_map) < 0)
            return -1;
    }
    return 0;
}

int ns_set_hostname(const char *hostname)
{
    return sethostname(hostname, strlen(hostname));
}
