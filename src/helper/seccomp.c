/*
 * seccomp.c — load the filter the supervisor compiled with libseccomp. The helper never builds
 * BPF itself and does not link libseccomp: it only hands the bytes to the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

int seccomp_load(const unsigned char *bpf, size_t len)
{
    struct sock_fprog prog = {
        .len = (unsigned short)(len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(void *)bpf,
    };
    if (len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        errno = E2BIG;
        return -1;
    }
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
