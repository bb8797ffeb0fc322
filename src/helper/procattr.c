/*
 * procattr.c — the process attributes of systemd.exec(5) "SCHEDULING" and IgnoreSIGPIPE=:
 * oom_score_adj, nice, CPU scheduling policy, I/O priority, SIGPIPE. In systemd's order
 * (exec_child: OOM adjust, nice, CPU scheduling, I/O priority), while the helper is still root
 * with every capability: a negative nice needs CAP_SYS_NICE, a real-time policy CAP_SYS_NICE
 * (or RLIMIT_RTPRIO), the realtime I/O class CAP_SYS_ADMIN, and the capability and uid steps
 * that follow in main.c may take those away. After the cgroup join, so a real-time policy meets
 * the unit's cgroup's cpu.rt_runtime_us (cgroup v1 with RT group scheduling: 0 there is EPERM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

#define IOPRIO_WHO_PROCESS 1

static int write_oom_score_adj(int32_t value)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d", (int)value);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return write_fd_once(fd, text, (size_t)n);
}

void procattr_apply(const struct plan *plan)
{
    uint32_t set = plan->procattr_set;
    /* As systemd: lowering the score needs CAP_SYS_RESOURCE (EACCES) and a user namespace makes
     * the file read-only (EPERM); either is skipped, not fatal. inspect shows the difference. */
    if ((set & PROCATTR_OOM_SCORE_ADJ) && write_oom_score_adj(plan->oom_score_adj) < 0 && errno != EACCES && errno != EPERM)
        fail(STEP_OOM_SCORE_ADJ, errno, (uint32_t)plan->oom_score_adj);
    if ((set & PROCATTR_NICE) && setpriority(PRIO_PROCESS, 0, plan->nice) < 0)
        fail(STEP_NICE, errno, (uint32_t)plan->nice);
    if (set & PROCATTR_SCHED) {
        /* sched_setscheduler keeps the nice value of the normal policies (other, batch, idle). */
        struct sched_param param = { .sched_priority = (int)plan->sched_priority };
        int policy = (int)plan->sched_policy | ((set & PROCATTR_RESET_ON_FORK) ? SCHED_RESET_ON_FORK : 0);
        if (sched_setscheduler(0, policy, &param) < 0)
            fail(STEP_SCHED, errno, plan->sched_policy);
    }
    if ((set & PROCATTR_IOPRIO) && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (int)plan->ioprio) < 0)
        fail(STEP_IOPRIO, errno, plan->ioprio);
    /* An ignored signal stays ignored across execve; the launcher started us with every
     * disposition at its default, so without the flag SIGPIPE kills, as IgnoreSIGPIPE=no asks. */
    if ((set & PROCATTR_IGNORE_SIGPIPE) && signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fail(STEP_SIGPIPE, errno, 0);
}
