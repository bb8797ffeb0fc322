/*
 * stdio.c — StandardInput=tty, tty-force, tty-fail: the supervisor opened TTYPath on the host
 * and placed it on fd 0 (files and terminals are opened by the manager, before the sandbox, as
 * systemd does); this makes it the service's controlling terminal. That needs the new session
 * of main.c's setsid(), so it runs right after it, as root (TIOCSCTTY with force needs
 * CAP_SYS_ADMIN).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "plan.h"

void stdio_acquire_tty(const struct plan *plan)
{
    if (plan->tty_mode == TTY_MODE_NONE)
        return;
    if (!isatty(STDIN_FILENO))
        fail(STEP_TTY, errno == EINVAL ? ENOTTY : errno, plan->tty_mode);
    int force = plan->tty_mode == TTY_MODE_FORCE;
    /* EPERM: another session has it. StandardInput=tty keeps the terminal as plain stdin then
     * (systemd would wait for it; a service that must own it says tty-force or tty-fail). */
    if (ioctl(STDIN_FILENO, TIOCSCTTY, force) < 0 && plan->tty_mode != TTY_MODE_TRY)
        fail(STEP_TTY, errno, plan->tty_mode);
}
