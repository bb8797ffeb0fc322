/*
 * nsprobe — the inside half of the namespace-directive tests (NamespaceDirectiveTests.cs).
 * Like probe.c, each command tries one thing and prints "ok" or "fail <errno>" (exit 0 or 1),
 * or prints what it found. Built static at test time, so it runs in a bare RootDirectory too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int result(int r)
{
    if (r == 0) {
        printf("ok\n");
        return 0;
    }
    printf("fail %d\n", errno);
    return 1;
}

/* Interface names, each with ":up" when it is up, space-separated and sorted by index. */
static int cmd_ifaces(void)
{
    struct if_nameindex *names = if_nameindex();
    if (!names)
        return result(-1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (struct if_nameindex *i = names; i->if_index; i++) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strncpy(ifr.ifr_name, i->if_name, IFNAMSIZ - 1);
        int up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
        printf("%s%s%s", i == names ? "" : " ", i->if_name, up ? ":up" : "");
    }
    printf("\n");
    if_freenameindex(names);
    return 0;
}

/* Sends READY=1 to $NOTIFY_SOCKET, as sd_notify(3) does. */
static int cmd_notify(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) {
        errno = ENOENT;
        return result(-1);
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return result(-1);
    static const char msg[] = "READY=1";
    ssize_t n = sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&addr, sizeof addr);
    return result(n < 0 ? -1 : 0);
}

/* /proc/self/uid_map (or gid_map) with its columns single-spaced and lines joined by ";". */
static int cmd_idmap(const char *which)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/%s", which);
    FILE *f = fopen(path, "re");
    if (!f)
        return result(-1);
    int first = 1;
    unsigned long a, b, c;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lu %lu %lu", &a, &b, &c) == 3) {
            printf("%s%lu %lu %lu", first ? "" : ";", a, b, c);
            first = 0;
        }
    printf("\n");
    fclose(f);
    return 0;
}

static int cmd_read(const char *path)
{
    char buf[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return result(-1);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return result(n < 0 ? -1 : 0);
}

static int cmd_write(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return result(-1);
    close(fd);
    unlink(path);
    return result(0);
}

/* execve PATH, which is a copy of this probe: it prints "ok" itself, and we print only a failure. */
static int cmd_exec(char *path)
{
    char *argv[] = { path, "say-ok", NULL };
    char *envp[] = { NULL };
    execve(path, argv, envp);
    return result(-1);
}

static int cmd_shm(const char *what, const char *key_text)
{
    key_t key = (key_t)strtol(key_text, NULL, 0);
    if (!strcmp(what, "create"))
        return result(shmget(key, 4096, IPC_CREAT | 0600) < 0 ? -1 : 0);
    int id = shmget(key, 0, 0);
    if (id < 0 || !strcmp(what, "open"))
        return result(id < 0 ? -1 : 0);
    return result(shmctl(id, IPC_RMID, NULL));
}

static int cmd_mq(const char *what, const char *name)
{
    if (!strcmp(what, "unlink"))
        return result(mq_unlink(name));
    mqd_t q = !strcmp(what, "create") ? mq_open(name, O_CREAT | O_RDONLY, 0600, NULL) : mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1)
        return result(-1);
    mq_close(q);
    return result(0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *cmd = argv[1], *arg = argc > 2 ? argv[2] : "", *arg2 = argc > 3 ? argv[3] : "";
    if (!strcmp(cmd, "sleep")) {
        printf("ready\n");
        for (;;)
            pause();
    }
    if (!strcmp(cmd, "say-ok"))
        return result(0);
    if (!strcmp(cmd, "ifaces"))
        return cmd_ifaces();
    if (!strcmp(cmd, "notify"))
        return cmd_notify();
    if (!strcmp(cmd, "idmap"))
        return cmd_idmap(arg);
    if (!strcmp(cmd, "read"))
        return cmd_read(arg);
    if (!strcmp(cmd, "write"))
        return cmd_write(arg);
    if (!strcmp(cmd, "exists"))
        return result(access(arg, F_OK));
    if (!strcmp(cmd, "exec"))
        return cmd_exec(argv[2]);
    if (!strcmp(cmd, "shm"))
        return cmd_shm(arg, arg2);
    if (!strcmp(cmd, "mq"))
        return cmd_mq(arg, arg2);
    if (!strcmp(cmd, "mount-tmpfs"))
        return result(mount("tmpfs", arg, "tmpfs", 0, NULL));
    if (!strcmp(cmd, "pid")) {
        printf("%d\n", (int)getpid());
        return 0;
    }
    if (!strcmp(cmd, "devnull")) {
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        return result(fd < 0 || write(fd, "x", 1) != 1 ? -1 : 0);
    }
    return 2;
}
