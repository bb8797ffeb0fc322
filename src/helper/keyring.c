/*
 * keyring.c — a fresh session keyring for the service (systemd's KeyringMode=).
 *
 * Without this step the service inherits the supervisor's session keyring, and with it every
 * key the supervisor's session holds (a root login's, for one), whatever uid the service runs
 * as: it possesses that keyring, and possession grants the possessor permissions. So, before
 * the uid switch and before the pid namespace's fork (init and service share it), the helper
 * joins a new anonymous session keyring:
 *   KEYRING_MODE_INHERIT  nothing: keep the supervisor's
 *   KEYRING_MODE_PRIVATE  a new empty session keyring
 *   KEYRING_MODE_SHARED   the same, with the service user's user keyring linked into it
 * The kernel makes the new keyring owned by, and charged to, the real uid/gid, and
 * KEY_SPEC_USER_KEYRING means the real uid's user keyring; so, as systemd and pam_keyinit do,
 * the real ids are switched to the service's for the step (the effective ids stay root, so no
 * capability is lost) and switched back after it.
 *
 * Two outcomes are not failures:
 *  - ENOSYS (a kernel without keyrings) and EPERM (keyctl denied to the supervisor's processes,
 *    e.g. by a container's seccomp profile): the service cannot reach any keyring either, so
 *    there is nothing to isolate.
 *  - EDQUOT under the service uid (its 200-key quota, shared by every service of that user):
 *    the keyring is made under the supervisor's uid instead. It is just as new and empty, and
 *    the service possesses it; only its owner differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

struct ids {
    uid_t uid;
    gid_t gid;
};

static long keyctl(int op, long a, long b)
{
    return syscall(SYS_keyctl, op, a, b, 0L, 0L);
}

/* Real uid/gid to TO (effective and saved ids untouched); -1 with errno. */
static int set_real_ids(struct ids to)
{
    if (getgid() != to.gid && setregid(to.gid, (gid_t)-1) < 0)
        return -1;
    if (getuid() != to.uid && setreuid(to.uid, (uid_t)-1) < 0)
        return -1;
    return 0;
}

/* Joins a new anonymous session keyring as SERVICE; 1 if keyrings are out of reach, 0, or -1. */
static int join(struct ids service, struct ids own)
{
    if (set_real_ids(service) < 0)
        return -1;
    if (keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0) >= 0)
        return 0;
    if (errno == ENOSYS || errno == EPERM)
        return 1;
    if (errno != EDQUOT || (service.uid == own.uid && service.gid == own.gid))
        return -1;
    if (set_real_ids(own) < 0 || keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0) < 0)
        return -1;
    return set_real_ids(service);
}

/*
 * In a new user namespace the helper's host ids are not mapped (getuid() says 65534, whatever
 * they are), so they can be neither compared nor restored, and a real uid switched away from
 * the namespace's root while the effective and saved ids stay unmapped would drop every
 * capability (capabilities(7): no id left at root). So there the helper first becomes the
 * namespace's root in all three ids, as it would at its uid switch anyway, and comes back there.
 */
static int own_ids(const struct plan *plan, struct ids *own)
{
    if ((plan->nsflags & PLAN_NS_USER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        return -1;
    *own = (struct ids){ getuid(), getgid() };
    return 0;
}

int keyring_setup(const struct plan *plan, uint32_t *step)
{
    if (plan->keyring_mode == KEYRING_MODE_INHERIT)
        return 0;
    *step = STEP_KEYRING;
    struct ids own;
    if (own_ids(plan, &own) < 0)
        return -1;
    struct ids service = plan->has_identity ? (struct ids){ plan->uid, plan->gid } : own;
    int r = join(service, own);
    if (r == 0 && plan->keyring_mode == KEYRING_MODE_SHARED) {
        *step = STEP_KEYRING_LINK_USER;
        if (keyctl(KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING) < 0)
            r = -1;
    }
    /* Always back to our own real ids: the uid switch further on needs them as they were. */
    int e = errno;
    if (set_real_ids(own) < 0 && r >= 0) {
        *step = STEP_KEYRING;
        return -1;
    }
    errno = e;
    return r < 0 ? -1 : 0;
}
