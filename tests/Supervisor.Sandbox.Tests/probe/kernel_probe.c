/*
 * kernel_probe — the inside half of the kernel-surface tests (RestrictNamespaces, LockPersonality,
 * MemoryDenyWriteExecute, RestrictRealtime, RestrictSUIDSGID, RestrictAddressFamilies,
 * ProtectKernelModules, ProtectKernelLogs, ProtectClock, ProtectHostname, ProcSubset) and of the
 * Landlock tests (read, write, bind, connect, signal). Each
 * command makes one attempt and prints "ok" or "fail <errno>", exiting 0 or 1, like probe.c.
 * Where the attempt would change the host if it worked, it is made so that the kernel refuses
 * it for another reason (EINVAL, ENOSYS) unless the filter answers first: the two errnos tell
 * the filter from the kernel. Static, so it runs inside a RootDirectory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int result(long r)
{
    if (r >= 0) {
        printf("ok\n");
        return 0;
    }
    printf("fail %d\n", errno);
    return 1;
}

static int cmd_unshare(const char *what)
{
    int flag = !strcmp(what, "user") ? CLONE_NEWUSER : !strcmp(what, "net") ? CLONE_NEWNET : !strcmp(what, "ipc") ? CLONE_NEWIPC : -1;
    if (flag < 0)
        return 2;
    return result(unshare(flag));
}

/* A writable and executable anonymous mapping. */
static int cmd_mmap_wx(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return result(p == MAP_FAILED ? -1 : 0);
}

/* A writable mapping made executable afterwards (the JIT pattern). */
static int cmd_mprotect_x(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return result(-1);
    return result(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

/* SCHED_FIFO with priority 0: the kernel says EINVAL (FIFO needs 1..99) without touching the scheduler. */
static int cmd_sched_fifo(void)
{
    struct sched_param sp = { .sched_priority = 0 };
    return result(sched_setscheduler(0, SCHED_FIFO, &sp));
}

/* The same through sched_setattr, whose policy is in a struct. */
static int cmd_sched_setattr(void)
{
    uint32_t attr[12] = { 48, SCHED_FIFO }; /* size, policy; flags, nice, priority 0 … */
    return result(syscall(SYS_sched_setattr, 0, attr, 0));
}

/* Creates DIR/sbx-suid and makes it setuid. */
static int cmd_chmod_suid(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sbx-suid", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return result(-1);
    close(fd);
    long r = chmod(path, 04755);
    int e = errno;
    unlink(path);
    errno = e;
    return result(r);
}

/* Creates DIR/sbx-sgid with the setgid bit in open()'s mode. */
static int cmd_open_sgid(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sbx-sgid", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 02755);
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    return result(fd);
}

static int cmd_socket(const char *family)
{
    int af = !strcmp(family, "packet") ? AF_PACKET : !strcmp(family, "inet") ? AF_INET : !strcmp(family, "unix") ? AF_UNIX : -1;
    if (af < 0)
        return 2;
    int fd = socket(af, SOCK_DGRAM, 0);
    if (fd >= 0)
        close(fd);
    return result(fd);
}

/* CLOCK_MONOTONIC cannot be set: EINVAL from the kernel, unless the filter answers first. */
static int cmd_clock_settime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return result(clock_settime(CLOCK_MONOTONIC, &ts));
}

/* ADJ_ADJTIME without ADJ_OFFSET_SINGLESHOT is EINVAL before any permission check. */
static int cmd_adjtimex(void)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = 0x8000; /* ADJ_ADJTIME (linux/timex.h; glibc names it only as part of ADJ_OFFSET_SINGLESHOT) */
    return result(adjtimex(&tx));
}

/* Whether PATH is a character device (a hidden one is an empty regular file). */
static int cmd_chardev(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return result(-1);
    if (!S_ISCHR(st.st_mode)) {
        errno = ENODEV;
        return result(-1);
    }
    return result(0);
}

static int cmd_read(const char *path)
{
    char c;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return result(-1);
    long r = read(fd, &c, 1);
    close(fd);
    return result(r);
}

static int cmd_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return result(-1);
    long r = write(fd, "x", 1);
    close(fd);
    return result(r);
}

/* bind or connect a TCP socket on 127.0.0.1:PORT; connect with nothing listening is ECONNREFUSED when allowed. */
static int cmd_tcp(const char *port, int do_bind)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return result(-1);
    int r = do_bind ? bind(fd, (struct sockaddr *)&a, sizeof a) : connect(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(fd);
    errno = e;
    return result(r);
}

/* connect to the abstract unix socket NAME ("@NAME" in ss): a listener made outside a Landlock domain. */
static int cmd_connect_abstract(const char *name)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    if (n + 1 > sizeof a.sun_path)
        return 2;
    memcpy(a.sun_path + 1, name, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return result(-1);
    int r = connect(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
    int e = errno;
    close(fd);
    errno = e;
    return result(r);
}

/* The calls @system-service allows and @system-service-strict does not: each made harmlessly
 * (a fd opened and closed again, the own process compared with itself). */
static int cmd_strict(const char *what)
{
    long r = -1;
    if (!strcmp(what, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the session keyring, not created */
        r = syscall(SYS_keyctl, 0L, -3L, 0L);
    else if (!strcmp(what, "io_uring_setup")) {
        unsigned char params[120] = {0}; /* struct io_uring_params */
        r = syscall(SYS_io_uring_setup, 1L, params);
    } else if (!strcmp(what, "userfaultfd"))
        r = syscall(SYS_userfaultfd, (long)O_CLOEXEC);
    else if (!strcmp(what, "kcmp")) /* KCMP_VM of the process with itself: 0, the same */
        r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 1L, 0L, 0L);
    else if (!strcmp(what, "process_vm_readv")) {
        char from[4] = "abc", to[4] = {0};
        struct iovec local = { to, sizeof to }, remote = { from, sizeof from };
        r = syscall(SYS_process_vm_readv, (long)getpid(), &local, 1L, &remote, 1L, 0L);
    } else {
        errno = EINVAL;
        return result(-1);
    }
    if (r > 2 && strcmp(what, "keyctl") && strcmp(what, "process_vm_readv"))
        close((int)r);
    return result(r < 0 ? -1 : 0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *cmd = argv[1], *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(cmd, "sleep")) {
        printf("ready\n");
        for (;;)
            pause();
    }
    if (!strcmp(cmd, "unshare"))
        return cmd_unshare(arg);
    if (!strcmp(cmd, "clone3")) /* size 0: EINVAL from the kernel, ENOSYS from the filter */
        return result(syscall(SYS_clone3, NULL, 0));
    if (!strcmp(cmd, "personality"))
        return result(personality((unsigned long)strtoul(arg, NULL, 0)));
    if (!strcmp(cmd, "mmap-wx"))
        return cmd_mmap_wx();
    if (!strcmp(cmd, "mprotect-x"))
        return cmd_mprotect_x();
    if (!strcmp(cmd, "sched-fifo"))
        return cmd_sched_fifo();
    if (!strcmp(cmd, "sched-setattr"))
        return cmd_sched_setattr();
    if (!strcmp(cmd, "chmod-suid"))
        return cmd_chmod_suid(arg);
    if (!strcmp(cmd, "open-sgid"))
        return cmd_open_sgid(arg);
    if (!strcmp(cmd, "socket"))
        return cmd_socket(arg);
    if (!strcmp(cmd, "delete-module")) /* no such module: ENOENT, or ENOSYS on a kernel without modules */
        return result(syscall(SYS_delete_module, "sbx_no_such_module", O_NONBLOCK));
    if (!strcmp(cmd, "syslog")) /* SYSLOG_ACTION_SIZE_BUFFER */
        return result(syscall(SYS_syslog, 10, NULL, 0));
    if (!strcmp(cmd, "clock-settime"))
        return cmd_clock_settime();
    if (!strcmp(cmd, "adjtimex"))
        return cmd_adjtimex();
    if (!strcmp(cmd, "sethostname"))
        return result(sethostname(arg, strlen(arg)));
    if (!strcmp(cmd, "chardev"))
        return cmd_chardev(arg);
    if (!strcmp(cmd, "exists"))
        return result(access(arg, F_OK));
    if (!strcmp(cmd, "mknod")) { /* a node for /dev/null's numbers, removed again */
        int r = mknod(arg, S_IFCHR | 0600, makedev(1, 3));
        int e = errno;
        if (r == 0)
            unlink(arg);
        errno = e;
        return result(r);
    }
    if (!strcmp(cmd, "read"))
        return cmd_read(arg);
    if (!strcmp(cmd, "write"))
        return cmd_write(arg);
    if (!strcmp(cmd, "bind"))
        return cmd_tcp(arg, 1);
    if (!strcmp(cmd, "connect"))
        return cmd_tcp(arg, 0);
    if (!strcmp(cmd, "connect-abstract"))
        return cmd_connect_abstract(arg);
    if (!strcmp(cmd, "signal")) /* signal 0 to PID: only the permission check */
        return result(kill((pid_t)atoi(arg), 0));
    if (!strcmp(cmd, "strict"))
        return cmd_strict(arg);
    if (!strcmp(cmd, "iopl")) /* level 0 lowers nothing: allowed (or ENOSYS on a kernel without iopl) unless the filter refuses it (@raw-io) */
        return result(syscall(SYS_iopl, 0));
    return 2;
}
