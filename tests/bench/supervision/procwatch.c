/* procwatch — the /proc observer shared by the supervision benchmarks (scale.sh, reconcile.sh,
 * restart.sh). It looks at every supervisor the same way, from outside: a "service process" is a
 * process whose /proc/PID/cmdline is exactly one of
 *     /bin/sleep\0infinity\0   sleep\0infinity\0   /bin/sleep\099999999\0   sleep\099999999\0
 * (reconcile.sh flips a unit's ExecStart between "infinity" and "99999999") and that descends
 * from the supervisor's top process (ppid links from /proc/PID/stat).
 *
 *   procwatch count TOP N TIMEOUT_MS INTERVAL_MS START_NS
 *       poll until N service processes descend from TOP; print "SECONDS SCANS MEAN_SCAN_US CPU_MS"
 *       (SECONDS from START_NS, a CLOCK_REALTIME time in ns; CPU_MS: the observer's own CPU time;
 *       exit 1 with "timeout COUNT" on timeout)
 *   procwatch file PATH EXPECTED TIMEOUT_MS INTERVAL_US TMP DST
 *       rename(TMP, DST), then poll PATH until its first line is EXPECTED; print "MS"
 *   procwatch replace TOP OLDPID TIMEOUT_MS INTERVAL_US TMP DST [COMMAND ARG...]
 *       note the service processes under TOP, rename(TMP, DST), start COMMAND (not waited for),
 *       then poll until OLDPID has exited (gone or zombie) and a service process not noted before
 *       descends from TOP; print "MS NEWPID OLDGONE_MS COMMAND_MS" (COMMAND_MS: how long COMMAND
 *       took, waited for after the new process is seen; -1 without COMMAND)
 *   procwatch tree PID...      print "PID STARTTIME" for each PID and every descendant
 *   procwatch gone FILE TIMEOUT_MS INTERVAL_MS START_NS
 *                              poll until no "PID STARTTIME" of FILE is alive; print the seconds
 *                              since START_NS (exit 1 with "timeout ALIVE" on timeout)
 *   procwatch kill SIG FILE    send SIG to each "PID STARTTIME" of FILE still alive with that
 *                              start time (never a reused pid); print how many were signalled
 *   procwatch alive FILE       print how many of FILE are still alive (zombies count as gone)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pid_max = 4194304;
static int *ppid_of;           /* ppid as read in scan number gen_of[pid] */
static unsigned *gen_of;
static unsigned gen;
static unsigned char *skip;    /* existed at the start and did not descend from TOP */
static unsigned char *known;   /* replace: existed at the start (its ppid is in static_ppid) */
static int *static_ppid;
static unsigned char *matched; /* count: confirmed service process; replace: one noted at start */
static int *pids;
static int npids;

static long long now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t s)
{
    void *p = calloc(n, s);
    if (!p) { perror("calloc"); exit(3); }
    return p;
}

static void setup(void)
{
    FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
    if (f) { if (fscanf(f, "%d", &pid_max) != 1) pid_max = 4194304; fclose(f); }
    pid_max += 1;
    ppid_of = xcalloc((size_t)pid_max, sizeof *ppid_of);
    gen_of = xcalloc((size_t)pid_max, sizeof *gen_of);
    skip = xcalloc((size_t)pid_max, 1);
    known = xcalloc((size_t)pid_max, 1);
    static_ppid = xcalloc((size_t)pid_max, sizeof *static_ppid);
    matched = xcalloc((size_t)pid_max, 1);
    pids = xcalloc((size_t)pid_max, sizeof *pids);
}

static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0) buf[n] = 0;
    return n;
}

/* Reads /proc/PID/stat: ppid, state, whether comm is "sleep", start time. 0 on success. */
static int read_stat(int pid, int *ppid, char *state, int *is_sleep, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof buf) <= 0) return -1;
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren) return -1;
    if (is_sleep) *is_sleep = (close_paren - open_paren - 1 == 5) && memcmp(open_paren + 1, "sleep", 5) == 0;
    char st;
    int pp;
    unsigned long long s = 0;
    /* after ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice num_threads itrealvalue starttime (field 22) */
    if (sscanf(close_paren + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &st, &pp, &s) != 3) return -1;
    if (ppid) *ppid = pp;
    if (state) *state = st;
    if (start) *start = s;
    return 0;
}

static int is_service_cmdline(int pid)
{
    static const struct { const char *s; size_t n; } ok[] = {
        { "/bin/sleep\0infinity", 20 }, { "sleep\0infinity", 15 },
        { "/bin/sleep\0" "99999999", 20 }, { "sleep\0" "99999999", 15 },
    };
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n <= 0) return 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if ((size_t)n == ok[i].n && memcmp(buf, ok[i].s, ok[i].n) == 0) return 1;
    return 0;
}

static void list_pids(void)
{
    npids = 0;
    DIR *d = opendir("/proc");
    if (!d) { perror("/proc"); exit(3); }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        int p = atoi(e->d_name);
        if (p > 0 && p < pid_max) pids[npids++] = p;
    }
    closedir(d);
}

/* ppid of p as known in this scan (fresh) or from the start (static), -1 if unknown. */
static int parent(int p)
{
    if (gen_of[p] == gen) return ppid_of[p];
    if (known[p]) return static_ppid[p];
    return -1;
}

static int descends(int p, int top)
{
    for (int i = 0; i < 256 && p > 0; i++) {
        if (p == top) return 1;
        p = parent(p);
    }
    return 0;
}

/* One full scan: fresh ppid of every process. */
static void full_scan(void)
{
    gen++;
    list_pids();
    for (int i = 0; i < npids; i++) {
        int p = pids[i], pp;
        if (read_stat(p, &pp, NULL, NULL, NULL) == 0) { ppid_of[p] = pp; gen_of[p] = gen; }
    }
}

static void sleep_us(long us)
{
    struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&d, &d) != 0) {}
}

static int exe_is_sleep(int pid)
{
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    const char *base = strrchr(target, '/');
    return strcmp(base ? base + 1 : target, "sleep") == 0;
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmd_count(int top, int n, long timeout_ms, long interval_ms, long long start_ns)
{
    /* Processes that exist now and do not descend from TOP cannot come to descend from it: skip
     * them. For the others, keep the ppid read the first time (supervisors keep their parent while
     * they start services; re-read if the pid was missing from the previous scan) and look for an
     * exec of sleep with one readlink of /proc/PID/exe; stat and cmdline are read only then. The
     * ancestors of a matched sleep are not looked at again, so a scan gets cheaper as services
     * come up. */
    full_scan();
    for (int i = 0; i < npids; i++)
        if (gen_of[pids[i]] == gen && !descends(pids[i], top)) skip[pids[i]] = 1;
    long long t_end = now_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000LL;
    long scans = 0;
    long long scan_ns = 0;
    int count = 0;
    static int cand[1 << 16];
    for (;;) {
        long long s0 = now_ns(CLOCK_MONOTONIC);
        gen++;
        list_pids();
        count = 0;
        int ncand = 0;
        for (int i = 0; i < npids; i++) {
            int p = pids[i], pp;
            if (skip[p]) continue;
            if (matched[p]) { count++; continue; }   /* a sleep never execs again */
            if (known[p]) continue;                  /* a supervisor of a matched sleep */
            if (gen_of[p] == gen - 1) gen_of[p] = gen;  /* seen last scan: keep its ppid */
            else if (read_stat(p, &pp, NULL, NULL, NULL) == 0) { ppid_of[p] = pp; gen_of[p] = gen; }
            else continue;
            if (exe_is_sleep(p) && ncand < (int)(sizeof cand / sizeof cand[0])) cand[ncand++] = p;
        }
        for (int i = 0; i < ncand; i++) {
            int p = cand[i], pp;
            if (read_stat(p, &pp, NULL, NULL, NULL) == 0) ppid_of[p] = pp;
            if (descends(p, top) && is_service_cmdline(p)) {
                matched[p] = 1;
                count++;
                /* Its ancestors up to TOP supervise: they will not exec into a sleep. Stop
                 * looking at them, but keep their ppid for the descent walk. */
                for (int q = ppid_of[p], k = 0; q > 0 && q != top && !known[q] && k < 256; q = ppid_of[q], k++) {
                    known[q] = 1;
                    static_ppid[q] = ppid_of[q];
                }
            }
        }
        long long s1 = now_ns(CLOCK_MONOTONIC);
        scans++;
        scan_ns += s1 - s0;
        if (count >= n) {
            printf("%.3f %ld %.0f %.0f\n", (now_ns(CLOCK_REALTIME) - start_ns) / 1e9, scans, scan_ns / 1e3 / scans, cpu_ms());
            return 0;
        }
        if (s1 > t_end) { printf("timeout %d\n", count); return 1; }
        if (kill(top, 0) != 0) { printf("exited %d\n", count); return 1; }
        sleep_us(interval_ms * 1000);
    }
}

static int first_line_is(const char *path, const char *expected)
{
    char buf[256];
    if (read_small(path, buf, sizeof buf) <= 0) return 0;
    buf[strcspn(buf, "\n")] = 0;
    return strcmp(buf, expected) == 0;
}

static int cmd_file(const char *path, const char *expected, long timeout_ms, long interval_us,
                    const char *tmp, const char *dst)
{
    long long t0 = now_ns(CLOCK_MONOTONIC);
    if (rename(tmp, dst) != 0) { perror("rename"); return 3; }
    long long t_end = t0 + timeout_ms * 1000000LL;
    for (;;) {
        if (first_line_is(path, expected)) {
            printf("%.3f\n", (now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
            return 0;
        }
        if (now_ns(CLOCK_MONOTONIC) > t_end) { printf("timeout\n"); return 1; }
        sleep_us(interval_us);
    }
}

static int gone(int pid)
{
    char st;
    return read_stat(pid, NULL, &st, NULL, NULL) != 0 || st == 'Z' || st == 'X';
}

static int cmd_replace(int top, int oldpid, long timeout_ms, long interval_us, const char *tmp,
                       const char *dst, char **command)
{
    /* Note every process now: its ppid (static: supervisors keep theirs) and the service
     * processes under TOP. Each poll then reads only processes that did not exist now. */
    full_scan();
    for (int i = 0; i < npids; i++) {
        int p = pids[i];
        if (gen_of[p] != gen) continue;
        known[p] = 1;
        static_ppid[p] = ppid_of[p];
        if (descends(p, top) && is_service_cmdline(p)) matched[p] = 1;
    }
    if (!matched[oldpid]) fprintf(stderr, "procwatch: warning: %d is not a service process under %d\n", oldpid, top);
    long long t0 = now_ns(CLOCK_MONOTONIC), t_gone = -1;
    if (rename(tmp, dst) != 0) { perror("rename"); return 3; }
    pid_t child = -1;
    if (command && command[0]) {
        child = fork();
        if (child == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) { dup2(null, 1); dup2(null, 2); }
            execvp(command[0], command);
            _exit(127);
        }
    }
    long long t_end = t0 + timeout_ms * 1000000LL, t_cmd = -1;
    int status;
    for (;;) {
        if (child > 0 && t_cmd < 0 && waitpid(child, &status, WNOHANG) == child) t_cmd = now_ns(CLOCK_MONOTONIC);
        if (t_gone < 0 && gone(oldpid)) t_gone = now_ns(CLOCK_MONOTONIC);
        if (t_gone >= 0) {
            gen++;
            list_pids();
            for (int i = 0; i < npids; i++) {
                int p = pids[i], pp;
                if (known[p]) continue;
                if (read_stat(p, &pp, NULL, NULL, NULL) == 0) { ppid_of[p] = pp; gen_of[p] = gen; }
            }
            for (int i = 0; i < npids; i++) {
                int p = pids[i];
                if (known[p] || gen_of[p] != gen) continue;
                if (descends(p, top) && is_service_cmdline(p)) {
                    long long t1 = now_ns(CLOCK_MONOTONIC);
                    if (child > 0 && t_cmd < 0 && waitpid(child, &status, 0) == child) t_cmd = now_ns(CLOCK_MONOTONIC);
                    printf("%.3f %d %.3f %.3f\n", (t1 - t0) / 1e6, p, (t_gone - t0) / 1e6,
                           child > 0 ? (t_cmd - t0) / 1e6 : -1.0);
                    return 0;
                }
            }
        }
        if (now_ns(CLOCK_MONOTONIC) > t_end) {
            if (child > 0 && t_cmd < 0) waitpid(child, &status, 0);
            printf("timeout %s\n", t_gone < 0 ? "old-still-running" : "no-new-process");
            return 1;
        }
        sleep_us(interval_us);
    }
}

static int cmd_tree(int nroots, char **roots)
{
    full_scan();
    for (int i = 0; i < npids; i++) {
        int p = pids[i], hit = 0;
        unsigned long long start;
        if (p == getpid() || gen_of[p] != gen) continue;
        for (int r = 0; r < nroots && !hit; r++) hit = descends(p, atoi(roots[r]));
        if (hit && read_stat(p, NULL, NULL, NULL, &start) == 0) printf("%d %llu\n", p, start);
    }
    return 0;
}

static int alive_as(int pid, unsigned long long start)
{
    char st;
    unsigned long long s;
    return read_stat(pid, NULL, &st, NULL, &s) == 0 && s == start && st != 'Z' && st != 'X';
}

static int cmd_kill_alive(int sig, const char *file)
{
    FILE *f = fopen(file, "re");
    if (!f) { perror(file); return 3; }
    int pid, n = 0;
    unsigned long long start;
    while (fscanf(f, "%d %llu", &pid, &start) == 2)
        if (pid > 1 && alive_as(pid, start) && (sig == 0 || kill(pid, sig) == 0)) n++;
    fclose(f);
    printf("%d\n", n);
    return 0;
}

static int cmd_gone(const char *file, long timeout_ms, long interval_ms, long long start_ns)
{
    FILE *f = fopen(file, "re");
    if (!f) { perror(file); return 3; }
    static int pid[1 << 20];
    static unsigned long long start[1 << 20];
    int n = 0;
    while (n < (1 << 20) && fscanf(f, "%d %llu", &pid[n], &start[n]) == 2) n++;
    fclose(f);
    long long t_end = now_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000LL;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++) {
            if (pid[i] <= 0) continue;
            if (alive_as(pid[i], start[i])) alive++; else pid[i] = 0;
        }
        if (alive == 0) { printf("%.3f\n", (now_ns(CLOCK_REALTIME) - start_ns) / 1e9); return 0; }
        if (now_ns(CLOCK_MONOTONIC) > t_end) { printf("timeout %d\n", alive); return 1; }
        sleep_us(interval_ms * 1000);
    }
}

int main(int argc, char **argv)
{
    setup();
    if (argc == 7 && strcmp(argv[1], "count") == 0)
        return cmd_count(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]), atoll(argv[6]));
    if (argc == 8 && strcmp(argv[1], "file") == 0)
        return cmd_file(argv[2], argv[3], atol(argv[4]), atol(argv[5]), argv[6], argv[7]);
    if (argc >= 8 && strcmp(argv[1], "replace") == 0)
        return cmd_replace(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]), argv[6], argv[7], argv + 8);
    if (argc >= 3 && strcmp(argv[1], "tree") == 0) return cmd_tree(argc - 2, argv + 2);
    if (argc == 6 && strcmp(argv[1], "gone") == 0) return cmd_gone(argv[2], atol(argv[3]), atol(argv[4]), atoll(argv[5]));
    if (argc == 4 && strcmp(argv[1], "kill") == 0) return cmd_kill_alive(atoi(argv[2]), argv[3]);
    if (argc == 3 && strcmp(argv[1], "alive") == 0) return cmd_kill_alive(0, argv[2]);
    fprintf(stderr, "usage: procwatch count|file|replace|tree|gone|kill|alive ... (see the header of procwatch.c)\n");
    return 2;
}
