/* crasher — the service for restart.sh: logs its start, runs RUN_MS, logs its exit, exits 1.
 *
 *   crasher LOGFILE RUN_MS     (no arguments: reads "LOGFILE RUN_MS" from ./crasher.args, so a
 *                               daemontools/runit/s6 service dir can have `run` be this binary)
 *
 * Each line is one write(2) with O_APPEND: "start <ns>\n" first thing in main, "exit <ns>\n"
 * just before _exit(1); <ns> is CLOCK_REALTIME in nanoseconds. restart.sh takes the latency of a
 * restart as start(i+1) - exit(i). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void line(const char *log, const char *what, long long ns)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s %lld\n", what, ns);
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || write(fd, buf, (size_t)n) != n) _exit(2);
    close(fd);
}

int main(int argc, char **argv)
{
    long long t0 = now_ns();
    char log[4096], ms[64];
    if (argc >= 3) {
        snprintf(log, sizeof log, "%s", argv[1]);
        snprintf(ms, sizeof ms, "%s", argv[2]);
    } else {
        FILE *f = fopen("crasher.args", "re");
        if (!f || fscanf(f, "%4095s %63s", log, ms) != 2) _exit(2);
        fclose(f);
    }
    line(log, "start", t0);
    long run_ms = strtol(ms, NULL, 10);
    if (run_ms > 0) {
        struct timespec d = { run_ms / 1000, (run_ms % 1000) * 1000000L };
        while (nanosleep(&d, &d) != 0) {}
    }
    line(log, "exit", now_ns());
    _exit(1);
}
