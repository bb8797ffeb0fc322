/*
 * cgroup.c — join the unit's cgroups. Done first of all, so that the namespaces, mounts and
 * the service itself are charged to the unit from the start. On v1 there is one cgroup.procs
 * per controller hierarchy; on v2 just one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

int cgroup_join(const struct plan *plan, uint32_t *failed_index)
{
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    for (size_t i = 0; i < plan->ncgroups; i++) {
        *failed_index = (uint32_t)i;
        int fd = open(plan->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        ssize_t w = write(fd, pid, (size_t)n);
        int e = errno;
        close(fd);
        if (w != n) {
            errno = w < 0 ? e : EIO;
            return -1;
        }
    }
    return 0;
}
