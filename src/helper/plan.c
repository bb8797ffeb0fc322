/*
 * plan.c — read the length-prefixed plan from a pipe into one buffer and point into it.
 * The format is documented in plan.h. The helper trusts the supervisor, but still checks
 * every length against the buffer, every count against its limit, and that each record is
 * used exactly, so a truncated, corrupt or oversized plan fails cleanly at STEP_READ_PLAN
 * instead of reading past the end. plan_test.c feeds it every truncation, random corruption
 * and absurd sizes under AddressSanitizer and UBSan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

struct cursor {
    const unsigned char *p;
    size_t left;
};

static int take(struct cursor *c, void *out, size_t n)
{
    if (c->left < n)
        return -EBADMSG;
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int take_u32(struct cursor *c, uint32_t *v) { return take(c, v, sizeof *v); }
static int take_u64(struct cursor *c, uint64_t *v) { return take(c, v, sizeof *v); }

/* A string is its bytes plus one NUL, and no NUL before the end. */
static int as_string(const unsigned char *p, size_t len, const char **out)
{
    if (len == 0 || p[len - 1] != '\0' || memchr(p, '\0', len - 1) != NULL)
        return -EBADMSG;
    *out = (const char *)p;
    return 0;
}

static int take_string(struct cursor *c, const char **out)
{
    uint32_t len;
    int r = take_u32(c, &len);
    if (r < 0)
        return r;
    if (c->left < len)
        return -EBADMSG;
    r = as_string(c->p, len, out);
    if (r < 0)
        return r;
    c->p += len;
    c->left -= len;
    return 0;
}

/*
 * Read everything up to EOF (the supervisor closes its end after the plan), at most
 * PLAN_MAX_BYTES: one byte more is E2BIG, and the rest is not read.
 */
static int read_all(int fd, unsigned char **buf, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    unsigned char *b = malloc(cap);
    if (b == NULL)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            if (n > PLAN_MAX_BYTES) {
                free(b);
                return -E2BIG;
            }
            /* Room for PLAN_MAX_BYTES and the one byte that proves the plan is too long. */
            cap = cap * 2 > PLAN_MAX_BYTES ? (size_t)PLAN_MAX_BYTES + 1 : cap * 2;
            unsigned char *nb = realloc(b, cap);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > PLAN_MAX_BYTES) {
        free(b);
        return -E2BIG;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Records that may appear once; a second one is a corrupt plan, not a silent override. */
static int once(struct plan *plan, uint32_t tag)
{
    uint32_t bit = 1u << tag;
    if (plan->seen_tags & bit)
        return -EBADMSG;
    plan->seen_tags |= bit;
    return 0;
}

static int parse_identity(struct plan *plan, struct cursor *c)
{
    uint32_t n;
    int r;
    if ((r = take_u32(c, &plan->uid)) < 0 || (r = take_u32(c, &plan->gid)) < 0 || (r = take_u32(c, &n)) < 0)
        return r;
    if (n > PLAN_MAX_GROUPS)
        return -E2BIG;
    if (c->left != (size_t)n * sizeof(uint32_t))
        return -EBADMSG;
    for (uint32_t i = 0; i < n; i++)
        if ((r = take_u32(c, &plan->groups[i])) < 0)
            return r;
    plan->ngroups = n;
    plan->has_identity = 1;
    return 0;
}

static int parse_mount(struct plan *plan, struct cursor *c)
{
    if (plan->nmounts >= PLAN_MAX_MOUNTS)
        return -E2BIG;
    struct plan_mount *m = &plan->mounts[plan->nmounts++];
    int r;
    if ((r = take_u32(c, &m->op)) < 0 || (r = take_u32(c, &m->flags)) < 0 || (r = take_u32(c, &m->mode)) < 0 ||
        (r = take_string(c, &m->src)) < 0 || (r = take_string(c, &m->dst)) < 0 || (r = take_string(c, &m->data)) < 0)
        return r;
    return m->op >= MOUNT_OP_BIND && m->op <= MOUNT_OP_MQUEUE ? 0 : -EBADMSG;
}

static int parse_rlimit(struct plan *plan, struct cursor *c)
{
    if (plan->nrlimits >= PLAN_MAX_RLIMITS)
        return -E2BIG;
    struct plan_rlimit *l = &plan->rlimits[plan->nrlimits++];
    uint32_t zero;
    int r;
    if ((r = take_u32(c, &l->resource)) < 0 || (r = take_u32(c, &zero)) < 0 || (r = take_u64(c, &l->soft)) < 0 ||
        (r = take_u64(c, &l->hard)) < 0)
        return r;
    return zero == 0 ? 0 : -EBADMSG;
}

static int parse_caps(struct plan *plan, struct cursor *c)
{
    int r;
    if ((r = take_u64(c, &plan->cap_bounding)) < 0 || (r = take_u64(c, &plan->cap_permitted)) < 0 ||
        (r = take_u64(c, &plan->cap_effective)) < 0 || (r = take_u64(c, &plan->cap_inheritable)) < 0 ||
        (r = take_u64(c, &plan->cap_ambient)) < 0)
        return r;
    plan->has_caps = 1;
    return 0;
}

static int parse_lsm(struct plan *plan, struct cursor *c)
{
    int r;
    if ((r = take_u32(c, &plan->lsm_kind)) < 0 || (r = take_u32(c, &plan->lsm_skip_if_unavailable)) < 0)
        return r;
    if (plan->lsm_kind != LSM_KIND_APPARMOR && plan->lsm_kind != LSM_KIND_SELINUX)
        return -EBADMSG;
    if ((r = as_string(c->p, c->left, &plan->lsm_label)) < 0)
        return r;
    c->left = 0;
    return 0;
}

static int parse_procattr(struct plan *plan, struct cursor *c)
{
    uint32_t nice, oom;
    int r;
    if ((r = take_u32(c, &plan->procattr_set)) < 0 || (r = take_u32(c, &nice)) < 0 || (r = take_u32(c, &plan->sched_policy)) < 0 ||
        (r = take_u32(c, &plan->sched_priority)) < 0 || (r = take_u32(c, &plan->ioprio)) < 0 || (r = take_u32(c, &oom)) < 0)
        return r;
    plan->nice = (int32_t)nice;
    plan->oom_score_adj = (int32_t)oom;
    /* The supervisor validated these; out of range here means a corrupt plan, not a wish. */
    if ((plan->procattr_set & ~0x3fu) != 0 || plan->nice < -20 || plan->nice > 19 || plan->sched_priority > 99 ||
        plan->oom_score_adj < -1000 || plan->oom_score_adj > 1000 || (plan->ioprio >> 13) > 3)
        return -EBADMSG;
    if ((plan->procattr_set & PROCATTR_RESET_ON_FORK) && !(plan->procattr_set & PROCATTR_SCHED))
        return -EBADMSG;
    return 0;
}

static int parse_landlock(struct plan *plan, struct cursor *c)
{
    int r;
    if ((r = take_u64(c, &plan->landlock_fs)) < 0 || (r = take_u64(c, &plan->landlock_net)) < 0 ||
        (r = take_u64(c, &plan->landlock_scoped)) < 0)
        return r;
    /* A ruleset that handles nothing restricts nothing: not a plan the supervisor writes. */
    if (plan->landlock_fs == 0 && plan->landlock_net == 0 && plan->landlock_scoped == 0)
        return -EBADMSG;
    plan->has_landlock = 1;
    return 0;
}

/* A LANDLOCK_PATH (path != 0) or LANDLOCK_PORT rule; its rights must be handled by the ruleset before it. */
static int parse_landlock_rule(struct plan *plan, struct cursor *c, int path)
{
    if (!plan->has_landlock)
        return -EBADMSG;
    if (plan->nlandlock_rules >= PLAN_MAX_LANDLOCK_RULES)
        return -E2BIG;
    struct plan_landlock_rule *rule = &plan->landlock_rules[plan->nlandlock_rules++];
    int r;
    if ((r = take_u64(c, &rule->access)) < 0)
        return r;
    if (path) {
        if ((r = take_u32(c, &rule->flags)) < 0 || (r = as_string(c->p, c->left, &rule->path)) < 0)
            return r;
        c->left = 0;
        return (rule->flags & ~LANDLOCK_PATH_OPTIONAL) == 0 && rule->access != 0 && (rule->access & ~plan->landlock_fs) == 0 ? 0 : -EBADMSG;
    }
    if ((r = take_u64(c, &rule->port)) < 0)
        return r;
    return rule->port >= 1 && rule->port <= 65535 && rule->access != 0 && (rule->access & ~plan->landlock_net) == 0 ? 0 : -EBADMSG;
}

static int parse_cgroup(struct plan *plan, uint32_t tag, const unsigned char *p, size_t len)
{
    if (plan->ncgroups >= PLAN_MAX_CGROUPS)
        return -E2BIG;
    struct plan_cgroup *cg = &plan->cgroups[plan->ncgroups++];
    cg->thread = tag == PLAN_TAG_CGROUP_THREAD;
    return as_string(p, len, &cg->path);
}

/* Records that are one string each. */
static int parse_string_record(struct plan *plan, uint32_t tag, const unsigned char *p, size_t len)
{
    switch (tag) {
    case PLAN_TAG_PATH:
        return as_string(p, len, &plan->path);
    case PLAN_TAG_ARG:
        if (plan->argc >= PLAN_MAX_ARGS)
            return -E2BIG;
        return as_string(p, len, &plan->argv[plan->argc++]);
    case PLAN_TAG_ENV:
        if (plan->envc >= PLAN_MAX_ENV)
            return -E2BIG;
        return as_string(p, len, &plan->envp[plan->envc++]);
    case PLAN_TAG_CWD:
        return as_string(p, len, &plan->cwd);
    case PLAN_TAG_NETNS_PATH:
        return as_string(p, len, &plan->netns_path);
    case PLAN_TAG_UID_MAP:
        return as_string(p, len, &plan->uid_map);
    case PLAN_TAG_GID_MAP:
        return as_string(p, len, &plan->gid_map);
    case PLAN_TAG_HOSTNAME:
        return as_string(p, len, &plan->hostname);
    case PLAN_TAG_CGROUP_PROCS:
    case PLAN_TAG_CGROUP_THREAD:
        return parse_cgroup(plan, tag, p, len);
    default:
        return -EPROTO;
    }
}

/* Records with fixed fields; every byte of the record must be used. */
static int parse_struct_record(struct plan *plan, uint32_t tag, const unsigned char *p, size_t len)
{
    struct cursor c = { p, len };
    int r;
    switch (tag) {
    case PLAN_TAG_IDENTITY:
        r = parse_identity(plan, &c);
        break;
    case PLAN_TAG_NSFLAGS:
        r = take_u32(&c, &plan->nsflags);
        break;
    case PLAN_TAG_MOUNT:
        r = parse_mount(plan, &c);
        break;
    case PLAN_TAG_RLIMIT:
        r = parse_rlimit(plan, &c);
        break;
    case PLAN_TAG_CAPS:
        r = parse_caps(plan, &c);
        break;
    case PLAN_TAG_SECUREBITS:
        r = take_u32(&c, &plan->securebits);
        plan->has_securebits = 1;
        break;
    case PLAN_TAG_FLAGS:
        r = take_u32(&c, &plan->flags);
        break;
    case PLAN_TAG_LSM:
        r = parse_lsm(plan, &c);
        break;
    case PLAN_TAG_KEYRING:
        if ((r = take_u32(&c, &plan->keyring_mode)) == 0 && plan->keyring_mode > KEYRING_MODE_SHARED)
            r = -EBADMSG;
        break;
    case PLAN_TAG_PROCATTR:
        r = parse_procattr(plan, &c);
        break;
    case PLAN_TAG_TTY:
        if ((r = take_u32(&c, &plan->tty_mode)) == 0 && plan->tty_mode > TTY_MODE_FAIL)
            r = -EBADMSG;
        break;
    case PLAN_TAG_UMASK:
        /* umask(2) keeps only the permission bits; anything above 0777 is not a mask we wrote. */
        if ((r = take_u32(&c, &plan->umask)) == 0 && plan->umask > 0777)
            r = -EBADMSG;
        plan->has_umask = 1;
        break;
    case PLAN_TAG_LISTEN_FDS:
        if ((r = take_u32(&c, &plan->listen_fds)) == 0 && plan->listen_fds > PLAN_MAX_LISTEN_FDS)
            r = -E2BIG;
        break;
    case PLAN_TAG_LANDLOCK:
        r = parse_landlock(plan, &c);
        break;
    case PLAN_TAG_LANDLOCK_PATH:
    case PLAN_TAG_LANDLOCK_PORT:
        r = parse_landlock_rule(plan, &c, tag == PLAN_TAG_LANDLOCK_PATH);
        break;
    case PLAN_TAG_INIT_REPORT: {
        uint32_t fd = 0;
        /* Above the fds the launcher places by number (0 to LISTEN_FDS_FIRST + listen fds). */
        if ((r = take_u32(&c, &fd)) == 0 && (fd < LISTEN_FDS_FIRST || fd > 1024))
            r = -EBADMSG;
        plan->init_report_fd = (int32_t)fd;
        break;
    }
    case PLAN_TAG_SECCOMP_NOTIFY: {
        uint32_t fd = 0;
        if ((r = take_u32(&c, &fd)) == 0 && (fd < LISTEN_FDS_FIRST || fd > 1024))
            r = -EBADMSG;
        plan->seccomp_notify_fd = (int32_t)fd;
        break;
    }
    default:
        return parse_string_record(plan, tag, p, len);
    }
    if (r < 0)
        return r;
    return c.left == 0 ? 0 : -EBADMSG;
}

static int parse_record(struct plan *plan, uint32_t tag, const unsigned char *p, size_t len)
{
    switch (tag) {
    case PLAN_TAG_ARG:
    case PLAN_TAG_ENV:
    case PLAN_TAG_MOUNT:
    case PLAN_TAG_RLIMIT:
    case PLAN_TAG_CGROUP_PROCS:
    case PLAN_TAG_CGROUP_THREAD:
    case PLAN_TAG_LANDLOCK_PATH:
    case PLAN_TAG_LANDLOCK_PORT:
        break;
    default:
        if (tag < 32 && once(plan, tag) < 0)
            return -EBADMSG;
    }
    if (tag == PLAN_TAG_SECCOMP) {
        /* struct sock_filter is 8 bytes; anything else is not a BPF program. */
        if (len == 0 || len % 8 != 0)
            return -EBADMSG;
        plan->seccomp = p;
        plan->seccomp_len = len;
        return 0;
    }
    return parse_struct_record(plan, tag, p, len);
}

int plan_decode(const unsigned char *buf, size_t len, struct plan *plan)
{
    uint32_t magic, version;
    memset(plan, 0, sizeof *plan);
    plan->init_report_fd = -1;
    plan->seccomp_notify_fd = -1;
    struct cursor c = { buf, len };
    if (take_u32(&c, &magic) < 0 || take_u32(&c, &version) < 0 || magic != PLAN_MAGIC)
        return -EBADMSG;
    if (version != PLAN_VERSION)
        return -EPROTONOSUPPORT;
    for (;;) {
        uint32_t tag, rlen;
        int r;
        if ((r = take_u32(&c, &tag)) < 0 || (r = take_u32(&c, &rlen)) < 0)
            return r;
        if (tag == PLAN_TAG_END)
            break;
        if (c.left < rlen)
            return -EBADMSG;
        if ((r = parse_record(plan, tag, c.p, rlen)) < 0)
            return r;
        c.p += rlen;
        c.left -= rlen;
    }
    /* The END record is empty and last: anything after it is a corrupt plan. */
    if (c.left != 0)
        return -EBADMSG;
    if (plan->path == NULL || plan->argc == 0)
        return -EINVAL;
    /* A listener belongs to a filter: a notify record alone is not a plan we wrote. */
    if (plan->seccomp_notify_fd >= 0 && plan->seccomp == NULL)
        return -EBADMSG;
    plan->argv[plan->argc] = NULL;
    plan->envp[plan->envc] = NULL;
    return 0;
}

int plan_read(int fd, struct plan *plan)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int r = read_all(fd, &buf, &len);
    if (r < 0)
        return r;
    r = plan_decode(buf, len, plan);
    if (r < 0) {
        free(buf);
        return r;
    }
    /* The buffer stays allocated: every string in the plan points into it until execve. */
    plan->buffer = buf;
    return 0;
}

void plan_free(struct plan *plan)
{
    free(plan->buffer);
    plan->buffer = NULL;
}

/* One line per field; HelperProtocolTests renders the same text from the C# plan. */
void plan_dump(const struct plan *plan, FILE *out)
{
    fprintf(out, "path %s\n", plan->path);
    for (size_t i = 0; i < plan->argc; i++)
        fprintf(out, "arg %s\n", plan->argv[i]);
    for (size_t i = 0; i < plan->envc; i++)
        fprintf(out, "env %s\n", plan->envp[i]);
    if (plan->cwd)
        fprintf(out, "cwd %s\n", plan->cwd);
    if (plan->has_identity) {
        fprintf(out, "identity %" PRIu32 " %" PRIu32, plan->uid, plan->gid);
        for (size_t i = 0; i < plan->ngroups; i++)
            fprintf(out, " %" PRIu32, plan->groups[i]);
        fputc('\n', out);
    }
    fprintf(out, "nsflags 0x%08" PRIx32 "\n", plan->nsflags);
    if (plan->netns_path)
        fprintf(out, "netns %s\n", plan->netns_path);
    if (plan->uid_map)
        fprintf(out, "uid_map %s\n", plan->uid_map);
    if (plan->gid_map)
        fprintf(out, "gid_map %s\n", plan->gid_map);
    if (plan->hostname)
        fprintf(out, "hostname %s\n", plan->hostname);
    for (size_t i = 0; i < plan->nmounts; i++) {
        const struct plan_mount *m = &plan->mounts[i];
        fprintf(out, "mount %" PRIu32 " 0x%" PRIx32 " 0%" PRIo32 " [%s] [%s] [%s]\n", m->op, m->flags, m->mode,
                m->src, m->dst, m->data);
    }
    for (size_t i = 0; i < plan->nrlimits; i++)
        fprintf(out, "rlimit %" PRIu32 " %" PRIu64 " %" PRIu64 "\n", plan->rlimits[i].resource,
                plan->rlimits[i].soft, plan->rlimits[i].hard);
    if (plan->has_caps)
        fprintf(out, "caps 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
                plan->cap_bounding, plan->cap_permitted, plan->cap_effective, plan->cap_inheritable,
                plan->cap_ambient);
    if (plan->has_securebits)
        fprintf(out, "securebits 0x%" PRIx32 "\n", plan->securebits);
    fprintf(out, "flags 0x%" PRIx32 "\n", plan->flags);
    if (plan->lsm_label)
        fprintf(out, "lsm %" PRIu32 " %" PRIu32 " %s\n", plan->lsm_kind, plan->lsm_skip_if_unavailable,
                plan->lsm_label);
    if (plan->seccomp)
        fprintf(out, "seccomp %zu\n", plan->seccomp_len / 8);
    for (size_t i = 0; i < plan->ncgroups; i++)
        fprintf(out, "cgroup %s %s\n", plan->cgroups[i].thread ? "thread" : "pid", plan->cgroups[i].path);
    fprintf(out, "keyring %" PRIu32 "\n", plan->keyring_mode);
    if (plan->has_umask)
        fprintf(out, "umask 0%03" PRIo32 "\n", plan->umask);
    if (plan->procattr_set)
        fprintf(out, "procattr 0x%" PRIx32 " %" PRId32 " %" PRIu32 " %" PRIu32 " 0x%" PRIx32 " %" PRId32 "\n", plan->procattr_set, plan->nice,
                plan->sched_policy, plan->sched_priority, plan->ioprio, plan->oom_score_adj);
    if (plan->tty_mode)
        fprintf(out, "tty %" PRIu32 "\n", plan->tty_mode);
    if (plan->listen_fds)
        fprintf(out, "listen-fds %" PRIu32 "\n", plan->listen_fds);
    if (plan->init_report_fd >= 0)
        fprintf(out, "init-report-fd %" PRId32 "\n", plan->init_report_fd);
    if (plan->seccomp_notify_fd >= 0)
        fprintf(out, "seccomp-notify-fd %" PRId32 "\n", plan->seccomp_notify_fd);
    if (plan->has_landlock)
        fprintf(out, "landlock 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n", plan->landlock_fs, plan->landlock_net, plan->landlock_scoped);
    for (size_t i = 0; i < plan->nlandlock_rules; i++) {
        const struct plan_landlock_rule *rule = &plan->landlock_rules[i];
        if (rule->path)
            fprintf(out, "landlock-path 0x%" PRIx64 " 0x%" PRIx32 " %s\n", rule->access, rule->flags, rule->path);
        else
            fprintf(out, "landlock-port 0x%" PRIx64 " %" PRIu64 "\n", rule->access, rule->port);
    }
}
