/*
 * init.c — PID 1 of the unit's pid namespace.
 *
 * The kernel gives PID 1 two jobs: orphans are reparented to it, so it must reap them or they
 * stay zombies; and signals without a handler are dropped for it, so it must pass the
 * supervisor's stop signals on. It exits with the service's status, and when it exits the
 * kernel kills everything else left in the namespace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan.h"

_Noreturn void init_run(pid_t service, const sigset_t *forwarded)
{
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(forwarded, &info);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            _exit(255);
        }
        if (sig != SIGCHLD) {
            /* ESRCH: the service already exited; its SIGCHLD is queued and ends the loop. */
            kill(service, sig);
            continue;
        }
        /* One SIGCHLD can stand for many exits: reap until nothing is left. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            if (pid == service)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}
