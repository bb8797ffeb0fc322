/*
 * caps.c — capabilities across the uid switch. The order matters (capabilities(7)):
 * bounding set first (PR_CAPBSET_DROP needs CAP_SETPCAP, gone after a switch to a non-root
 * uid); KEEP_CAPS before setuid (or the permitted set is cleared); capset after it (setuid
 * clears the effective set); ambient last (a cap can be raised there only if it is in both
 * permitted and inheritable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

int caps_drop_bounding(uint64_t keep, uint32_t *failed_cap)
{
    for (uint32_t cap = 0; cap < 64; cap++) {
        if (keep & (1ULL << cap))
            continue;
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0)
            break; /* EINVAL: past the last capability this kernel knows */
        if (r == 0)
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            *failed_cap = cap;
            return -1;
        }
    }
    return 0;
}

int caps_prepare_uid_switch(const struct plan *plan)
{
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (bits < 0)
        return -1;
    int want = plan->has_securebits ? (int)plan->securebits : bits;
    /* KEEP_CAPS is cleared again by execve, so it never leaks into the service. */
    if (plan->has_identity && plan->has_caps)
        want |= SECBIT_KEEP_CAPS;
    if (want == bits)
        return 0;
    return prctl(PR_SET_SECUREBITS, want, 0, 0, 0);
}

int caps_apply(const struct plan *plan, uint32_t *step, uint32_t *failed_cap)
{
    if (!plan->has_caps)
        return 0;
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(plan->cap_effective >> (32 * i));
        data[i].permitted = (uint32_t)(plan->cap_permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(plan->cap_inheritable >> (32 * i));
    }
    *step = STEP_CAPSET;
    if (syscall(SYS_capset, &header, data) < 0)
        return -1;
    *step = STEP_CAP_AMBIENT;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return -1;
    for (uint32_t cap = 0; cap < 64; cap++) {
        if (!(plan->cap_ambient & (1ULL << cap)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            *failed_cap = cap;
            return -1;
        }
    }
    return 0;
}
