/*
 * listen.c — socket activation, sd_listen_fds(3)'s side of the protocol.
 *
 * The supervisor binds the sockets (it keeps them across restarts of the service) and places
 * them at LISTEN_FDS_FIRST.. in the helper. The service expects them at 3.. with
 * LISTEN_PID equal to its own pid, as it sees it: inside a pid namespace that is the namespace's
 * pid, which only this process, just before execve, can know (getpid()). LISTEN_FDS and
 * LISTEN_FDNAMES are in the plan's environment already.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "plan.h"

static char listen_pid_env[32];

int listen_fds_install(struct plan *plan)
{
    uint32_t n = plan->listen_fds;
    int tmp[PLAN_MAX_LISTEN_FDS];
    if (n == 0)
        return 0;
    /* Sources (LISTEN_FDS_FIRST..) and targets (3..) overlap, and STATUS_FD is a target once
     * there are two sockets: move everything above both ranges first, then into place. */
    int high = LISTEN_FDS_FIRST + (int)n;
    int moved = fcntl(status_fd, F_DUPFD_CLOEXEC, high);
    if (moved < 0)
        return -1;
    close(status_fd);
    status_fd = moved;
    for (uint32_t i = 0; i < n; i++) {
        tmp[i] = fcntl(LISTEN_FDS_FIRST + (int)i, F_DUPFD_CLOEXEC, high);
        if (tmp[i] < 0)
            return -1;
        close(LISTEN_FDS_FIRST + (int)i);
    }
    for (uint32_t i = 0; i < n; i++) {
        /* dup2 leaves FD_CLOEXEC clear on the new descriptor: these, and only these, survive execve. */
        if (dup2(tmp[i], 3 + (int)i) < 0)
            return -1;
        close(tmp[i]);
    }
    if (plan->envc >= PLAN_MAX_ENV) {
        errno = E2BIG;
        return -1;
    }
    snprintf(listen_pid_env, sizeof listen_pid_env, "LISTEN_PID=%ld", (long)getpid());
    plan->envp[plan->envc++] = listen_pid_env;
    plan->envp[plan->envc] = NULL;
    return 0;
}

void listen_fds_close(const struct plan *plan)
{
    for (uint32_t i = 0; i < plan->listen_fds; i++)
        close(LISTEN_FDS_FIRST + (int)i);
}
