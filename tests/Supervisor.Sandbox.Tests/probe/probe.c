/*
 * probe — the inside half of the sandbox tests. Each command tries one thing and prints
 * "ok" (it worked) or "fail <errno>" (it did not), exiting 0 or 1, so a test can run the same
 * attempt with and without a setting and see the difference. Built static at test time, so it
 * runs inside a pivot_root'ed root with nothing else in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

static int cmd_raisecap(int cap)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return result(-1);
    d[cap / 32].effective |= 1u << (cap % 32);
    d[cap / 32].permitted |= 1u << (cap % 32);
    return result((int)syscall(SYS_capset, &h, d));
}

static int cmd_setns(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return result(-1);
    return result(setns(fd, CLONE_NEWNET));
}

static int cmd_write(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
    if (fd < 0)
        return result(-1);
    close(fd);
    unlink(path);
    return result(0);
}

static int cmd_read(const char *path)
{
    char buf[16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return result(-1);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return result(n < 0 ? -1 : 0);
}

static int cmd_int80(void)
{
    /* The i386 ABI from a 64-bit binary: eax 20 is getpid there. */
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    if (ret < 0) {
        errno = (int)-ret;
        return result(-1);
    }
    return result(0);
}

static int cmd_chroot_escape(const char *marker)
{
    /* The classic: chroot into a subdirectory keeps the cwd outside it, so ../.. walks up
     * past the old root. Only a pivot_root with the old root detached leaves nothing above. */
    mkdir("/escape", 0700);
    if (chroot("/escape") < 0)
        return result(-1);
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            return result(-1);
    if (chroot(".") < 0)
        return result(-1);
    return result(access(marker, F_OK));
}

static int cmd_loopback(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return result(-1);
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return result(-1);
    if (!(ifr.ifr_flags & IFF_UP)) {
        errno = ENETDOWN;
        return result(-1);
    }
    return result(0);
}

/* Finds a key of TYPE named DESC from the session keyring (as `keyctl search @s` does) and reads it. */
static int cmd_key(const char *type, const char *desc)
{
    long key = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, type, desc, 0L);
    if (key < 0)
        return result(-1);
    char payload[256];
    if (strcmp(type, "user") == 0 && syscall(SYS_keyctl, KEYCTL_READ, key, payload, sizeof payload, 0L) < 0)
        return result(-1);
    return result(0);
}

/* Adds keys to the session keyring until the user's key quota is used up, then sleeps ("ready"). */
static int cmd_fillkeys(void)
{
    for (int i = 0;; i++) {
        char desc[32];
        snprintf(desc, sizeof desc, "fill-%d", i);
        if (syscall(SYS_add_key, "user", desc, "x", 1L, KEY_SPEC_SESSION_KEYRING) >= 0)
            continue;
        if (errno != EDQUOT)
            return result(-1);
        break;
    }
    printf("ready\n");
    for (;;)
        pause();
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
    if (!strcmp(cmd, "orphan")) {
        /* Leave a zombie for PID 1: the child exits without waiting for its own child, which
         * has exited too; both land on the namespace's init, which must reap them. */
        pid_t child = fork();
        if (child == 0) {
            if (fork() == 0)
                _exit(0);
            _exit(0);
        }
        waitpid(child, NULL, 0);
        printf("ready\n");
        for (;;)
            pause();
    }
    if (!strcmp(cmd, "exit"))
        return atoi(arg);
    if (!strcmp(cmd, "key"))
        return cmd_key(arg, argc > 3 ? argv[3] : "");
    if (!strcmp(cmd, "fillkeys"))
        return cmd_fillkeys();
    if (!strcmp(cmd, "mount"))
        return result(mount("tmpfs", arg, "tmpfs", 0, NULL));
    if (!strcmp(cmd, "ptrace"))
        return result((int)ptrace(PTRACE_SEIZE, atoi(arg), 0, 0));
    if (!strcmp(cmd, "setns"))
        return cmd_setns(arg);
    if (!strcmp(cmd, "raisecap"))
        return cmd_raisecap(atoi(arg));
    if (!strcmp(cmd, "write"))
        return cmd_write(arg);
    if (!strcmp(cmd, "openw")) {
        /* Open for writing and close without writing: enough to meet a read-only mount. */
        int fd = open(arg, O_WRONLY);
        if (fd >= 0)
            close(fd);
        return result(fd < 0 ? -1 : 0);
    }
    if (!strcmp(cmd, "read"))
        return cmd_read(arg);
    if (!strcmp(cmd, "exists"))
        return result(access(arg, F_OK));
    if (!strcmp(cmd, "swapoff"))
        return result(swapoff(arg));
    if (!strcmp(cmd, "int80"))
        return cmd_int80();
    if (!strcmp(cmd, "chroot-escape"))
        return cmd_chroot_escape(arg);
    if (!strcmp(cmd, "loopback"))
        return cmd_loopback();
    if (!strcmp(cmd, "hostname")) {
        char h[256];
        gethostname(h, sizeof h);
        printf("%s\n", h);
        return 0;
    }
    if (!strcmp(cmd, "pid")) {
        printf("%d\n", (int)getpid());
        return 0;
    }
    if (!strcmp(cmd, "cwd")) {
        char c[4096];
        printf("%s\n", getcwd(c, sizeof c) ? c : "?");
        return 0;
    }
    if (!strcmp(cmd, "env")) {
        const char *v = getenv(arg);
        printf("%s\n", v ? v : "(unset)");
        return 0;
    }
    if (!strcmp(cmd, "securebits")) {
        printf("%d\n", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
        return 0;
    }
    if (!strcmp(cmd, "rlimit-nofile")) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        printf("%llu %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
        return 0;
    }
    return 2;
}
