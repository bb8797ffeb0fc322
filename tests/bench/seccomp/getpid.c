/*
 * getpid.c — the cost of an allowed system call under a seccomp filter whose denied calls are
 * answered by the kernel (SECCOMP_RET_ERRNO) versus reported to a listener
 * (SECCOMP_RET_USER_NOTIF, loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER, as the supervisor's
 * helper loads SystemCallFilter). The program is the same both ways: one BPF program, the action
 * for the denied set (keyctl, add_key, request_key) is the only difference; getpid is allowed by
 * both, so it never reaches the listener.
 *
 *   getpid MODE ROUNDS CALLS    MODE: none | errno | notify
 * Prints one line per round: nanoseconds per getpid().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE AUDIT_ARCH_AARCH64
#endif

static int load(unsigned int action, unsigned int flags)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_keyctl, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_add_key, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_request_key, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, action),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: getpid none|errno|notify ROUNDS CALLS\n");
        return 2;
    }
    int r = 0;
    if (strcmp(argv[1], "errno") == 0)
        r = load(SECCOMP_RET_ERRNO | EPERM, 0);
    else if (strcmp(argv[1], "notify") == 0)
        r = load(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    else if (strcmp(argv[1], "none") != 0)
        r = -1, errno = EINVAL;
    if (r < 0) {
        perror("seccomp");
        return 1;
    }
    long rounds = atol(argv[2]), calls = atol(argv[3]);
    for (long i = 0; i < rounds; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long j = 0; j < calls; j++)
            syscall(SYS_getpid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)calls);
    }
    return 0;
}
