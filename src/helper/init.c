/*
 * init.c — PID 1 of the unit's pid namespace.
 *
 * The kernel gives PID 1 two jobs: orphans are reparented to it, so it must reap them or they
 * stay zombies; and signals without a handler are dropped for it, so it must pass the
 * supervisor's stop signals on. When it exits the kernel kills everything else left in the
 * namespace.
 *
 * Two ways to end. Without a report fd it exits with the service's status, as the service's
 * stand-in. With one (Type=forking: the service is a parent that exits once its daemon runs), it
 * writes a record for every process it reaps, so the supervisor learns the parent's status and
 * later the daemon's; a parent that fails ends it at once with that status; otherwise it stays
 * while the namespace has processes, and exits 0 when the last one is gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan.h"

static void report(int *fd, pid_t pid, int status, uint32_t flags)
{
    if (*fd < 0)
        return;
    struct init_report r = { pid, status, flags };
    /* 12 bytes on a pipe are written whole or not at all; a supervisor that went away
     * (EPIPE) stops the reports, not the init. */
    if (write(*fd, &r, sizeof r) != (ssize_t)sizeof r) {
        close(*fd);
        *fd = -1;
    }
}

_Noreturn void init_run(pid_t service, const sigset_t *forwarded, int report_fd)
{
    int outlive = report_fd >= 0, service_done = 0;
    if (outlive)
        signal(SIGPIPE, SIG_IGN);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(forwarded, &info);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            _exit(255);
        }
        if (sig != SIGCHLD) {
            /* ESRCH: the service already exited; its SIGCHLD is queued and ends the loop.
             * Once it is reaped its pid may be another process's: nothing is forwarded. */
            if (!service_done)
                kill(service, sig);
            continue;
        }
        /* One SIGCHLD can stand for many exits: reap until nothing is left. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid < 0 && errno == ECHILD && service_done)
                _exit(0); /* the namespace is empty */
            if (pid <= 0)
                break;
            report(&report_fd, pid, status, pid == service ? INIT_REPORT_SERVICE : 0);
            if (pid == service) {
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (!outlive || code != 0)
                    _exit(code);
                service_done = 1;
            }
        }
    }
}
