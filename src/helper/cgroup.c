/*
 * cgroup.c — join the unit's cgroups. Done first of all, so that the namespaces, mounts and
 * the service itself are charged to the unit from the start.
 *
 * The plan names each file and what to write to it, in order: our pid (cgroup.procs moves the
 * whole process), or "0", which moves the writing thread (the helper has only one, so that is
 * the whole process too). Which file and which write suit the host's cgroup version is the
 * supervisor's choice (Compiler/CgroupJoinPlanner.cs); the helper only writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "plan.h"

int cgroup_join(const struct plan *plan, uint32_t *failed_index)
{
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    for (size_t i = 0; i < plan->ncgroups; i++) {
        const struct plan_cgroup *cg = &plan->cgroups[i];
        *failed_index = (uint32_t)i;
        int fd = open(cg->path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        int r = cg->thread ? write_fd_once(fd, "0\n", 2) : write_fd_once(fd, pid, (size_t)n);
        if (r < 0)
            return -1;
    }
    return 0;
}
