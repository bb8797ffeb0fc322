/*
 * cgroup.c — join the unit's cgroups. Done first of all, so that the namespaces, mounts and
 * the service itself are charged to the unit from the start. On v1 there is one cgroup.procs
 * per controller hierarchy; on v2 just one.
 *
 * Kernel quirk (v1): writing a pid to cgroup.procs takes the global cgroup_threadgroup_rwsem
 * for writing, and when no migration happened in the last few tens of milliseconds that waits
 * for an RCU grace period — about 10 ms per service start. Moving a single thread that names
 * itself ("0") skips that lock (kernel 6.0, "cgroup: Optimize single thread migration"). The
 * helper is single-threaded, so writing "0" to the hierarchy's `tasks` file moves the whole
 * process, exactly as cgroup.procs would, in well under a millisecond. v2 has no `tasks` file
 * and gets the pid on cgroup.procs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

/* The v1 `tasks` file next to PROCS, or -1 (errno ENOENT) on v2 or for any other path. */
static int open_tasks_sibling(const char *procs)
{
    static const char suffix[] = "/cgroup.procs";
    char tasks[4096];
    size_t len = strlen(procs), slen = sizeof suffix - 1;
    if (len < slen || strcmp(procs + len - slen, suffix) != 0 || len - slen + sizeof "/tasks" > sizeof tasks) {
        errno = ENOENT;
        return -1;
    }
    memcpy(tasks, procs, len - slen);
    memcpy(tasks + len - slen, "/tasks", sizeof "/tasks");
    return open(tasks, O_WRONLY | O_CLOEXEC);
}

int cgroup_join(const struct plan *plan, uint32_t *failed_index)
{
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    for (size_t i = 0; i < plan->ncgroups; i++) {
        *failed_index = (uint32_t)i;
        int fd = open_tasks_sibling(plan->cgroup_procs[i]);
        if (fd >= 0) {
            if (write_fd_once(fd, "0\n", 2) < 0)
                return -1;
            continue;
        }
        if (errno != ENOENT)
            return -1;
        fd = open(plan->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (write_fd_once(fd, pid, (size_t)n) < 0)
            return -1;
    }
    return 0;
}
