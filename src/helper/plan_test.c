/*
 * plan_test.c — the plan decoder against truncated, corrupt and oversized plans.
 *
 *   plan-test HELPER [PLAN_FILE...]
 *
 * Built by `make test` with -fsanitize=address,undefined where gcc has them, so any read past
 * a plan's end or undefined behaviour aborts the run. Every case decodes a copy of the plan in a
 * buffer of exactly its size and expects either a clean -errno or (for random corruption that
 * still forms a valid plan) a plan whose every string lies inside that buffer. Rejected plans
 * also go through the real HELPER (plan on fd 3, status pipe on fd 4), which must report
 * {ERROR, STEP_READ_PLAN, errno} and exit 127 without doing anything else. Only plans the
 * decoder rejected are ever given to the helper, so nothing is set up or executed.
 * PLAN_FILEs are plans the C# serializer wrote (HelperProtocolTests passes one).
 * Prints "plan-test: N checks passed" and exits 0, or names the first failed check and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan.h"

static struct plan plan; /* static: far too big for the stack */
static const char *helper;
static unsigned long checks;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                       \
        checks++;                                                                                              \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "plan-test: FAILED at %s:%d: ", __FILE__, __LINE__);                               \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
            exit(1);                                                                                           \
        }                                                                                                      \
    } while (0)

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- building plans ---- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            perror("plan-test: realloc");
            exit(2);
        }
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_cstr(struct buf *b, const char *s) { put(b, s, strlen(s) + 1); }

static void record(struct buf *b, uint32_t tag, const struct buf *payload)
{
    put_u32(b, tag);
    put_u32(b, (uint32_t)payload->len);
    put(b, payload->p, payload->len);
}

static void string_record(struct buf *b, uint32_t tag, const char *s)
{
    put_u32(b, tag);
    put_u32(b, (uint32_t)strlen(s) + 1);
    put_cstr(b, s);
}

static void header(struct buf *b)
{
    put_u32(b, PLAN_MAGIC);
    put_u32(b, PLAN_VERSION);
}

static void end(struct buf *b)
{
    put_u32(b, PLAN_TAG_END);
    put_u32(b, 0);
}

static void mount_record(struct buf *b, uint32_t op, const char *src, const char *dst, const char *data)
{
    struct buf r = { 0 };
    put_u32(&r, op);
    put_u32(&r, MOUNT_FLAG_READ_ONLY);
    put_u32(&r, 0755);
    const char *s[3] = { src, dst, data };
    for (int i = 0; i < 3; i++) {
        put_u32(&r, (uint32_t)strlen(s[i]) + 1);
        put_cstr(&r, s[i]);
    }
    record(b, PLAN_TAG_MOUNT, &r);
    free(r.p);
}

/* A Landlock ruleset with one path and one port rule. */
static void landlock_records(struct buf *b, struct buf *r)
{
    r->len = 0;
    put_u64(r, 0xffff), put_u64(r, 0x3), put_u64(r, 0x2);
    record(b, PLAN_TAG_LANDLOCK, r);
    r->len = 0;
    put_u64(r, 0xd), put_u32(r, LANDLOCK_PATH_OPTIONAL), put_cstr(r, "/usr");
    record(b, PLAN_TAG_LANDLOCK_PATH, r);
    r->len = 0;
    put_u64(r, 0x1), put_u64(r, 8080);
    record(b, PLAN_TAG_LANDLOCK_PORT, r);
}

static void fixed_records(struct buf *b)
{
    struct buf r = { 0 };
    uint32_t identity[] = { 33, 33, 2, 33, 4 };
    put(&r, identity, sizeof identity);
    record(b, PLAN_TAG_IDENTITY, &r);
    r.len = 0;
    put_u32(&r, PLAN_NS_PID | PLAN_NS_MOUNT);
    record(b, PLAN_TAG_NSFLAGS, &r);
    r.len = 0;
    put_u32(&r, 7), put_u32(&r, 0), put_u64(&r, 1024), put_u64(&r, 4096);
    record(b, PLAN_TAG_RLIMIT, &r);
    r.len = 0;
    for (int i = 0; i < 5; i++)
        put_u64(&r, 0x400);
    record(b, PLAN_TAG_CAPS, &r);
    r.len = 0;
    put_u32(&r, 0x2f);
    record(b, PLAN_TAG_SECUREBITS, &r);
    r.len = 0;
    put_u32(&r, PLAN_FLAG_NO_NEW_PRIVS);
    record(b, PLAN_TAG_FLAGS, &r);
    r.len = 0;
    put_u32(&r, LSM_KIND_APPARMOR), put_u32(&r, 1), put_cstr(&r, "supervisor-site");
    record(b, PLAN_TAG_LSM, &r);
    r.len = 0;
    for (int i = 0; i < 16; i++)
        put_u32(&r, (uint32_t)i);
    record(b, PLAN_TAG_SECCOMP, &r);
    r.len = 0;
    put_u32(&r, 9);
    record(b, PLAN_TAG_SECCOMP_NOTIFY, &r);
    r.len = 0;
    put_u32(&r, KEYRING_MODE_PRIVATE);
    record(b, PLAN_TAG_KEYRING, &r);
    r.len = 0;
    put_u32(&r, 027);
    record(b, PLAN_TAG_UMASK, &r);
    r.len = 0;
    put_u32(&r, PROCATTR_NICE | PROCATTR_SCHED | PROCATTR_RESET_ON_FORK | PROCATTR_IOPRIO | PROCATTR_OOM_SCORE_ADJ | PROCATTR_IGNORE_SIGPIPE);
    put_u32(&r, (uint32_t)-5), put_u32(&r, 2), put_u32(&r, 10), put_u32(&r, (2u << 13) | 7), put_u32(&r, (uint32_t)-900);
    record(b, PLAN_TAG_PROCATTR, &r);
    r.len = 0;
    put_u32(&r, TTY_MODE_FORCE);
    record(b, PLAN_TAG_TTY, &r);
    landlock_records(b, &r);
    free(r.p);
}

/* A plan with every record kind. */
static struct buf valid_plan(void)
{
    struct buf b = { 0 };
    header(&b);
    string_record(&b, PLAN_TAG_PATH, "/usr/bin/python3");
    string_record(&b, PLAN_TAG_ARG, "python3");
    string_record(&b, PLAN_TAG_ARG, "-m");
    string_record(&b, PLAN_TAG_ENV, "LANG=C.UTF-8");
    string_record(&b, PLAN_TAG_CWD, "/srv/site");
    string_record(&b, PLAN_TAG_NETNS_PATH, "/run/netns/site");
    string_record(&b, PLAN_TAG_UID_MAP, "0 100000 65536\n");
    string_record(&b, PLAN_TAG_GID_MAP, "0 100000 65536\n");
    string_record(&b, PLAN_TAG_HOSTNAME, "site");
    mount_record(&b, MOUNT_OP_BIND, "/var/lib/site", "/var/lib/site", "");
    mount_record(&b, MOUNT_OP_PROC, "", "/proc", "hidepid=invisible");
    mount_record(&b, MOUNT_OP_EXEC_ATTR, "", "/", "");
    mount_record(&b, MOUNT_OP_MQUEUE, "", "/dev/mqueue", "");
    fixed_records(&b);
    string_record(&b, PLAN_TAG_CGROUP_PROCS, "/sys/fs/cgroup/unified/web/cgroup.procs");
    string_record(&b, PLAN_TAG_CGROUP_THREAD, "/sys/fs/cgroup/memory/web/tasks");
    end(&b);
    return b;
}

/* ---- decoding ---- */

static int inside(const void *s, const unsigned char *buf, size_t len)
{
    const unsigned char *p = s;
    if (p == NULL)
        return 1;
    if (p < buf || p >= buf + len)
        return 0;
    return memchr(p, '\0', (size_t)(buf + len - p)) != NULL;
}

/* A plan the decoder accepted: every pointer inside the buffer, every count within its limit. */
static void check_accepted(const unsigned char *buf, size_t len)
{
    CHECK(plan.path && plan.argc > 0 && plan.argv[plan.argc] == NULL && plan.envp[plan.envc] == NULL, "accepted plan without path/argv");
    CHECK(plan.argc <= PLAN_MAX_ARGS && plan.envc <= PLAN_MAX_ENV && plan.ngroups <= PLAN_MAX_GROUPS &&
              plan.nmounts <= PLAN_MAX_MOUNTS && plan.nrlimits <= PLAN_MAX_RLIMITS && plan.ncgroups <= PLAN_MAX_CGROUPS,
          "a count above its limit");
    int ok = inside(plan.path, buf, len) && inside(plan.cwd, buf, len) && inside(plan.netns_path, buf, len) &&
             inside(plan.uid_map, buf, len) && inside(plan.gid_map, buf, len) && inside(plan.hostname, buf, len) &&
             inside(plan.lsm_label, buf, len);
    for (size_t i = 0; i < plan.argc; i++)
        ok = ok && inside(plan.argv[i], buf, len);
    for (size_t i = 0; i < plan.envc; i++)
        ok = ok && inside(plan.envp[i], buf, len);
    for (size_t i = 0; i < plan.nmounts; i++)
        ok = ok && inside(plan.mounts[i].src, buf, len) && inside(plan.mounts[i].dst, buf, len) && inside(plan.mounts[i].data, buf, len);
    for (size_t i = 0; i < plan.ncgroups; i++)
        ok = ok && inside(plan.cgroups[i].path, buf, len);
    CHECK(plan.nlandlock_rules <= PLAN_MAX_LANDLOCK_RULES, "more Landlock rules than PLAN_MAX_LANDLOCK_RULES");
    for (size_t i = 0; i < plan.nlandlock_rules; i++)
        ok = ok && inside(plan.landlock_rules[i].path, buf, len);
    CHECK(ok, "a string outside the plan's buffer");
    CHECK(plan.seccomp == NULL || (plan.seccomp >= buf && plan.seccomp + plan.seccomp_len <= buf + len && plan.seccomp_len % 8 == 0),
          "the seccomp program outside the buffer");
    /* Touch every accepted string: the sanitizers see any byte past the end. */
    volatile size_t total = strlen(plan.path);
    for (size_t i = 0; i < plan.argc; i++)
        total += strlen(plan.argv[i]);
    (void)total;
}

/* Decodes a copy in a buffer of exactly LEN bytes, so a read past the end is caught. */
static int decode(const unsigned char *bytes, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        exit(2);
    memcpy(copy, bytes, len);
    int r = plan_decode(copy, len, &plan);
    if (r == 0)
        check_accepted(copy, len);
    free(copy);
    return r;
}

static int known_error(int r)
{
    return r == -EBADMSG || r == -E2BIG || r == -EPROTO || r == -EPROTONOSUPPORT || r == -EINVAL;
}

/* ---- the real helper ---- */

static void write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* EPIPE: the helper stopped reading (an oversized plan) */
        p += w;
        len -= (size_t)w;
    }
}

/* posix_spawn, not fork: a sanitized process has a huge address space that fork would copy. */
static pid_t spawn_helper(int plan_fd, int status_fd)
{
    int a = fcntl(plan_fd, F_DUPFD_CLOEXEC, 10), b = fcntl(status_fd, F_DUPFD_CLOEXEC, 10);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, a, PLAN_FD);
    posix_spawn_file_actions_adddup2(&fa, b, STATUS_FD);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = { "supervisor-helper", NULL };
    char *envp[] = { NULL };
    pid_t pid;
    int r = posix_spawn(&pid, helper, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(a);
    close(b);
    if (r != 0) {
        errno = r;
        return -1;
    }
    return pid;
}

/* A plan the decoder rejected with -EXPECT, given to the helper: it must say so at STEP_READ_PLAN. */
static void through_helper(const char *what, const unsigned char *bytes, size_t len, int expect)
{
    CHECK(decode(bytes, len) == -expect, "%s: not rejected with errno %d before it reaches the helper", what, expect);
    int in[2], st[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0)
        exit(2);
    pid_t pid = spawn_helper(in[0], st[1]);
    CHECK(pid > 0, "%s: fork: %s", what, strerror(errno));
    close(in[0]);
    close(st[1]);
    write_all(in[1], bytes, len);
    close(in[1]);
    uint32_t rec[8];
    size_t got = 0;
    ssize_t n;
    while ((n = read(st[0], (char *)rec + got, sizeof rec - got)) > 0 || (n < 0 && errno == EINTR))
        got += n > 0 ? (size_t)n : 0;
    close(st[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    CHECK(got == 16, "%s: the helper wrote %zu status bytes, not one record", what, got);
    CHECK(rec[0] == STATUS_KIND_ERROR && rec[1] == STEP_READ_PLAN && rec[2] == (uint32_t)expect,
          "%s: the helper reported {kind %u, step %u, errno %u}, not {ERROR, READ_PLAN, %d}", what, rec[0], rec[1], rec[2], expect);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127, "%s: the helper did not exit 127 (status 0x%x)", what, status);
}

/* ---- the cases ---- */

static void every_truncation(const struct buf *valid, size_t helper_stride)
{
    for (size_t n = 0; n < valid->len; n++) {
        int r = decode(valid->p, n);
        CHECK(r < 0 && known_error(r), "truncated to %zu of %zu bytes: decoder returned %d", n, valid->len, r);
        if (n % helper_stride == 0 || n + 1 == valid->len) {
            char what[64];
            snprintf(what, sizeof what, "truncated to %zu bytes", n);
            through_helper(what, valid->p, n, -r);
        }
    }
}

static void random_corruption(const struct buf *valid, int rounds)
{
    unsigned char *copy = malloc(valid->len);
    size_t rejected = 0;
    for (int i = 0; i < rounds; i++) {
        memcpy(copy, valid->p, valid->len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++)
            copy[rng() % valid->len] = (unsigned char)rng();
        /* Now and then cut it short as well. */
        size_t len = rng() % 4 == 0 ? rng() % valid->len : valid->len;
        int r = decode(copy, len);
        CHECK(r == 0 || known_error(r), "random corruption round %d: decoder returned %d", i, r);
        if (r < 0 && ++rejected % 512 == 0)
            through_helper("a randomly corrupted plan", copy, len, -r);
    }
    free(copy);
    CHECK(rejected > (size_t)rounds / 10, "only %zu of %d corrupted plans rejected: the corruption did not reach the decoder", rejected, rounds);
}

/* VALID without its END record, then one record (DECLARED length, ACTUAL bytes of PAYLOAD), then END. */
static struct buf with_record(const struct buf *valid, uint32_t tag, const void *payload, uint32_t declared, size_t actual)
{
    struct buf b = { 0 };
    put(&b, valid->p, valid->len - 8);
    put_u32(&b, tag);
    put_u32(&b, declared);
    put(&b, payload, actual);
    end(&b);
    return b;
}

static void expect(const char *what, const struct buf *b, int err)
{
    int r = decode(b->p, b->len);
    CHECK(r == -err, "%s: decoder returned %d, expected -%d", what, r, err);
    through_helper(what, b->p, b->len, err);
}

static void huge_lengths(const struct buf *valid)
{
    static const uint32_t sizes[] = { 0xffffffffu, 0x80000000u, 0x7fffffffu, 4096 };
    unsigned char small[16] = "abc";
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct buf b = with_record(valid, PLAN_TAG_ENV, small, sizes[i], 4);
        expect("a record longer than the plan", &b, EBADMSG);
        free(b.p);
    }
    /* Inside a mount record: a string length past the record. */
    uint32_t mount[] = { MOUNT_OP_BIND, 0, 0, 0xfffffff0u, 0 };
    struct buf b = with_record(valid, PLAN_TAG_MOUNT, mount, sizeof mount, sizeof mount);
    expect("a mount string longer than its record", &b, EBADMSG);
    free(b.p);
    /* A group count far beyond the limit, and one beyond what the record holds. */
    uint32_t identity[] = { 0, 0, 0xffffffffu, 1 };
    struct buf lone = { 0 };
    header(&lone);
    string_record(&lone, PLAN_TAG_PATH, "/bin/true");
    string_record(&lone, PLAN_TAG_ARG, "true");
    end(&lone);
    b = with_record(&lone, PLAN_TAG_IDENTITY, identity, sizeof identity, sizeof identity);
    expect("4294967295 supplementary groups", &b, E2BIG);
    free(b.p);
    identity[2] = 3;
    b = with_record(&lone, PLAN_TAG_IDENTITY, identity, sizeof identity, sizeof identity);
    expect("3 groups declared, 1 given", &b, EBADMSG);
    free(b.p);
    free(lone.p);
}

/* More records of one kind than the helper's arrays hold. */
static void too_many(uint32_t tag, size_t limit, const char *what)
{
    struct buf b = { 0 };
    header(&b);
    string_record(&b, PLAN_TAG_PATH, "/bin/true");
    if (tag != PLAN_TAG_ARG)
        string_record(&b, PLAN_TAG_ARG, "true");
    for (size_t i = 0; i <= limit; i++) {
        if (tag == PLAN_TAG_MOUNT) {
            mount_record(&b, MOUNT_OP_MKDIR, "", "/x", "");
        } else if (tag == PLAN_TAG_LANDLOCK_PORT) {
            struct buf r = { 0 };
            if (i == 0) {
                put_u64(&r, 0), put_u64(&r, 0x1), put_u64(&r, 0);
                record(&b, PLAN_TAG_LANDLOCK, &r);
                r.len = 0;
            }
            put_u64(&r, 0x1), put_u64(&r, 1 + i % 65535);
            record(&b, tag, &r);
            free(r.p);
        } else if (tag == PLAN_TAG_RLIMIT) {
            struct buf r = { 0 };
            put_u32(&r, 7), put_u32(&r, 0), put_u64(&r, 1), put_u64(&r, 1);
            record(&b, tag, &r);
            free(r.p);
        } else {
            string_record(&b, tag, "x");
        }
    }
    end(&b);
    expect(what, &b, E2BIG);
    free(b.p);
}

static void malformed(void)
{
    struct buf lone = { 0 };
    header(&lone);
    string_record(&lone, PLAN_TAG_PATH, "/bin/true");
    string_record(&lone, PLAN_TAG_ARG, "true");
    end(&lone);
    struct { const char *what; uint32_t tag; const char *payload; uint32_t len; int err; } cases[] = {
        { "a string without its NUL", PLAN_TAG_ENV, "abc", 3, EBADMSG },
        { "a string with a NUL inside", PLAN_TAG_ENV, "a\0bc", 5, EBADMSG },
        { "an empty string record", PLAN_TAG_ENV, "", 0, EBADMSG },
        { "a second path", PLAN_TAG_PATH, "/bin/sh", 8, EBADMSG },
        { "an unknown tag", 9999, "x", 2, EPROTO },
        { "a tag past the known ones", 31, "x", 2, EPROTO },
        { "seccomp bytes that are no whole instruction", PLAN_TAG_SECCOMP, "1234567", 7, EBADMSG },
        { "namespace flags one byte short", PLAN_TAG_NSFLAGS, "abc", 3, EBADMSG },
        { "namespace flags one byte long", PLAN_TAG_NSFLAGS, "abcde", 5, EBADMSG },
        { "an unknown mount operation", PLAN_TAG_MOUNT, "\x63\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\0\1\0\0\0\0\1\0\0\0\0", 27, EBADMSG },
        { "the mount operation after MOUNT_OP_MQUEUE", PLAN_TAG_MOUNT, "\x0b\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\0\1\0\0\0\0\1\0\0\0\0", 27, EBADMSG },
        { "an unknown LSM", PLAN_TAG_LSM, "\x09\0\0\0\0\0\0\0x", 10, EBADMSG },
        { "an unknown keyring mode", PLAN_TAG_KEYRING, "\x03\0\0", 4, EBADMSG },
        { "a umask above 0777", PLAN_TAG_UMASK, "\0\x02\0", 4, EBADMSG },
        { "a umask one byte short", PLAN_TAG_UMASK, "\x17\0\0", 3, EBADMSG },
        { "process attributes one field short", PLAN_TAG_PROCATTR, "\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20, EBADMSG },
        { "an unknown process attribute bit", PLAN_TAG_PROCATTR, "\x40\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24, EBADMSG },
        { "a nice level of 20", PLAN_TAG_PROCATTR, "\x01\0\0\0\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24, EBADMSG },
        { "an oom_score_adj of 1001", PLAN_TAG_PROCATTR, "\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xe9\x03\0", 24, EBADMSG },
        { "reset-on-fork without a policy", PLAN_TAG_PROCATTR, "\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24, EBADMSG },
        { "an unknown terminal mode", PLAN_TAG_TTY, "\x04\0\0", 4, EBADMSG },
        { "a Landlock ruleset that handles nothing", PLAN_TAG_LANDLOCK, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24, EBADMSG },
        { "a Landlock ruleset one field short", PLAN_TAG_LANDLOCK, "\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, EBADMSG },
        { "a Landlock path rule before its ruleset", PLAN_TAG_LANDLOCK_PATH, "\x04\0\0\0\0\0\0\0\0\0\0\0/", 14, EBADMSG },
        { "a seccomp listener without a filter", PLAN_TAG_SECCOMP_NOTIFY, "\x09\0\0", 4, EBADMSG },
        { "a seccomp listener socket on a launcher fd", PLAN_TAG_SECCOMP_NOTIFY, "\x04\0\0", 4, EBADMSG },
        { "a seccomp listener socket past fd 1024", PLAN_TAG_SECCOMP_NOTIFY, "\x01\x04\0", 4, EBADMSG },
        { "a Landlock port rule before its ruleset", PLAN_TAG_LANDLOCK_PORT, "\x01\0\0\0\0\0\0\0\x50\0\0\0\0\0\0", 16, EBADMSG },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = with_record(&lone, cases[i].tag, cases[i].payload, cases[i].len, cases[i].len);
        expect(cases[i].what, &b, cases[i].err);
        free(b.p);
    }
    struct buf b = { 0 };
    put(&b, lone.p, lone.len);
    put_u32(&b, 0);
    expect("bytes after the END record", &b, EBADMSG);
    b.len = lone.len - 4;
    put_u32(&b, 4);
    put_u32(&b, 0);
    expect("an END record with a length", &b, EBADMSG);
    b.len = 0;
    put(&b, lone.p, lone.len);
    b.p[0] ^= 1;
    expect("a wrong magic number", &b, EBADMSG);
    b.p[0] ^= 1;
    b.p[4] = 99;
    expect("another protocol version", &b, EPROTONOSUPPORT);
    b.len = 0;
    header(&b);
    string_record(&b, PLAN_TAG_PATH, "/bin/true");
    end(&b);
    expect("a plan without argv", &b, EINVAL);
    expect("nothing at all", &(struct buf){ .p = b.p, .len = 0 }, EBADMSG);
    free(b.p);
    free(lone.p);
}

/* A valid plan of exactly SIZE bytes: path, argv[0], and a seccomp record filling the rest. */
static struct buf plan_of_size(size_t size)
{
    struct buf b = { 0 };
    header(&b);
    /* 8 header + (8 + path) + (8 + 5 "true") + (8 + bpf) + 8 END; bpf must be whole instructions. */
    size_t fixed = 8 + 8 + 8 + 5 + 8 + 8;
    size_t path_len = 16 + (size - fixed - 16) % 8; /* path incl. NUL, so the rest divides by 8 */
    char path[32];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    path[path_len - 1] = '\0';
    string_record(&b, PLAN_TAG_PATH, path);
    string_record(&b, PLAN_TAG_ARG, "true");
    size_t bpf = size - fixed - path_len;
    put_u32(&b, PLAN_TAG_SECCOMP);
    put_u32(&b, (uint32_t)bpf);
    unsigned char *zeros = calloc(1, bpf);
    put(&b, zeros, bpf);
    free(zeros);
    end(&b);
    CHECK(b.len == size, "built a plan of %zu bytes, wanted %zu", b.len, size);
    return b;
}

/* plan_read from a pipe, with a forked writer (plans larger than a pipe's buffer). */
static int read_from_pipe(const unsigned char *bytes, size_t len)
{
    int p[2];
    if (pipe(p) < 0)
        exit(2);
    pid_t writer = fork();
    if (writer == 0) {
        close(p[0]);
        write_all(p[1], bytes, len);
        _exit(0);
    }
    close(p[1]);
    int r = plan_read(p[0], &plan);
    close(p[0]);
    waitpid(writer, NULL, 0);
    if (r == 0)
        plan_free(&plan);
    return r;
}

static void oversized(void)
{
    struct buf max = plan_of_size(PLAN_MAX_BYTES);
    CHECK(read_from_pipe(max.p, max.len) == 0, "a plan of exactly PLAN_MAX_BYTES is refused");
    free(max.p);
    struct buf over = plan_of_size(PLAN_MAX_BYTES + 8);
    CHECK(read_from_pipe(over.p, over.len) == -E2BIG, "a plan over PLAN_MAX_BYTES is not E2BIG");
    CHECK(decode(over.p, over.len) == 0, "the oversized plan is otherwise valid");
    /* Only the size is wrong, so only the reader can refuse it: the helper must say E2BIG. */
    int in[2], st[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0)
        exit(2);
    pid_t pid = spawn_helper(in[0], st[1]);
    CHECK(pid > 0, "an oversized plan: cannot start the helper: %s", strerror(errno));
    close(in[0]);
    close(st[1]);
    write_all(in[1], over.p, over.len);
    close(in[1]);
    uint32_t rec[4] = { 0 };
    ssize_t n = read(st[0], rec, sizeof rec);
    close(st[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(n == 16 && rec[0] == STATUS_KIND_ERROR && rec[1] == STEP_READ_PLAN && rec[2] == E2BIG,
          "an oversized plan: the helper reported {%u, %u, %u}", rec[0], rec[1], rec[2]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127, "an oversized plan: the helper did not exit 127");
    free(over.p);
    /* 64 MiB of anything: refused after PLAN_MAX_BYTES + 1, the rest never read. */
    size_t huge = 64u << 20;
    unsigned char *junk = malloc(huge);
    memset(junk, 0xa5, huge);
    CHECK(read_from_pipe(junk, huge) == -E2BIG, "64 MiB of junk is not E2BIG");
    free(junk);
}

static struct buf load(const char *path)
{
    struct buf b = { 0 };
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno));
    unsigned char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, n);
    fclose(f);
    return b;
}

static void fuzz(const char *name, const struct buf *valid, size_t helper_stride)
{
    int r = decode(valid->p, valid->len);
    CHECK(r == 0, "%s: the valid plan is refused (%d)", name, r);
    every_truncation(valid, helper_stride);
    random_corruption(valid, 20000);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: plan-test HELPER [PLAN_FILE...]\n");
        return 2;
    }
    helper = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (getenv("PLAN_TEST_SEED"))
        rng_state = strtoull(getenv("PLAN_TEST_SEED"), NULL, 0) | 1;
    printf("plan-test: seed 0x%llx\n", (unsigned long long)rng_state);

    struct buf valid = valid_plan();
    CHECK(plan_decode(valid.p, valid.len, &plan) == 0, "the built-in valid plan is refused");
    CHECK(plan.argc == 2 && plan.nmounts == 4 && plan.mounts[3].op == MOUNT_OP_MQUEUE && plan.ncgroups == 2 && plan.cgroups[1].thread && !plan.cgroups[0].thread &&
              plan.ngroups == 2 && plan.seccomp_len == 64 && plan.keyring_mode == KEYRING_MODE_PRIVATE && strcmp(plan.lsm_label, "supervisor-site") == 0 &&
              plan.has_umask && plan.umask == 027 && plan.procattr_set == 0x3f && plan.nice == -5 && plan.sched_policy == 2 &&
              plan.sched_priority == 10 && plan.ioprio == ((2u << 13) | 7) && plan.oom_score_adj == -900 && plan.tty_mode == TTY_MODE_FORCE,
          "the built-in valid plan decodes to the wrong fields");
    fuzz("built-in plan", &valid, 1);
    for (int i = 2; i < argc; i++) {
        struct buf file = load(argv[i]);
        fuzz(argv[i], &file, 8);
        free(file.p);
    }
    huge_lengths(&valid);
    too_many(PLAN_TAG_ARG, PLAN_MAX_ARGS, "more arguments than PLAN_MAX_ARGS");
    too_many(PLAN_TAG_ENV, PLAN_MAX_ENV, "more environment entries than PLAN_MAX_ENV");
    too_many(PLAN_TAG_MOUNT, PLAN_MAX_MOUNTS, "more mounts than PLAN_MAX_MOUNTS");
    too_many(PLAN_TAG_RLIMIT, PLAN_MAX_RLIMITS, "more rlimits than PLAN_MAX_RLIMITS");
    too_many(PLAN_TAG_CGROUP_PROCS, PLAN_MAX_CGROUPS, "more cgroups than PLAN_MAX_CGROUPS");
    too_many(PLAN_TAG_LANDLOCK_PORT, PLAN_MAX_LANDLOCK_RULES, "more Landlock rules than PLAN_MAX_LANDLOCK_RULES");
    malformed();
    oversized();
    free(valid.p);
    printf("plan-test: %lu checks passed\n", checks);
    return 0;
}
