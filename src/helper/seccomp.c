/*
 * seccomp.c — load the filter the supervisor compiled with libseccomp. The helper never builds
 * BPF itself and does not link libseccomp: it only hands the bytes to the kernel.
 *
 * With a PLAN_TAG_SECCOMP_NOTIFY record the filter answers the calls the unit denies with
 * SECCOMP_RET_USER_NOTIF, and it is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER: the supervisor
 * reads the denials from the listener (seccomp_unotify(2)) and answers each with the declared
 * errno, or kills the caller. The listener must reach the supervisor, but once the filter is in
 * force every call of this process passes it: a sendmsg() here that the filter denies would wait
 * for an answer from a listener nobody holds yet, forever. So the process that sends it is
 * another one, made before the filter (and so not under it) with CLONE_VM | CLONE_FILES: it sees
 * the listener in the shared descriptor table and the number in the shared memory. It sleeps on
 * a futex word this process registered with set_tid_address(2): the kernel clears that word and
 * wakes it when this process's memory is released, which execve does (exec_mm_release), and so
 * does an exit. After the filter, this process makes one call, execve. execve takes the service
 * out of the shared table first (unshare_files) and then closes the close-on-exec listener there:
 * the service never holds it, while the sender's table still does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
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

/* Shared with the sender through CLONE_VM. */
static volatile uint32_t exec_word = 1; /* cleared by the kernel at execve or exit */
static volatile int listener = -1;
static volatile int exec_errno;
static volatile int notify_fd = -1;
static char sender_stack[64 * 1024] __attribute__((aligned(16)));

static void send_listener(int sock, int fd)
{
    char data = 'L';
    struct iovec iov = { &data, 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    /* A supervisor that went away gets nothing; the denials then fail with ENOSYS (no listener). */
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* The sender: waits for the service's execve (or the helper's exit), then hands the listener over. */
static int sender(void *arg)
{
    (void)arg;
    while (exec_word != 0)
        syscall(SYS_futex, &exec_word, FUTEX_WAIT, 1, NULL, NULL, 0);
    if (listener >= 0)
        send_listener(notify_fd, listener);
    if (exec_errno != 0)
        status_write(STATUS_KIND_ERROR, STEP_EXEC, exec_errno, 0);
    _exit(0);
}

_Noreturn void seccomp_load_notify_exec(const struct plan *plan)
{
    notify_fd = plan->seccomp_notify_fd;
    syscall(SYS_set_tid_address, &exec_word);
    /* CLONE_PARENT: the sender is the supervisor's child (or the namespace init's), never a child
     * the service would find. Its exit signal is then ours, SIGCHLD to that parent. */
    pid_t pid = clone(sender, sender_stack + sizeof sender_stack, CLONE_VM | CLONE_FILES | CLONE_PARENT | SIGCHLD, NULL);
    if (pid < 0)
        fail(STEP_SECCOMP_NOTIFY, errno, 0);
    if (!(plan->nsflags & PLAN_NS_PID))
        status_write(STATUS_KIND_NOTIFY_SENDER, 0, 0, (uint32_t)pid);
    struct sock_fprog prog = {
        .len = (unsigned short)(plan->seccomp_len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(void *)plan->seccomp,
    };
    if (plan->seccomp_len / sizeof(struct sock_filter) > BPF_MAXINSNS)
        fail(STEP_SECCOMP, E2BIG, 0);
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0)
        fail(STEP_SECCOMP, errno, 0); /* its exit wakes the sender, which has nothing to send */
    listener = fd;
    /* From here on only execve: the compiler keeps execve, exit and exit_group out of the
     * notified set, so none of them can wait for a listener that is not handed over yet. */
    execve(plan->path, (char *const *)plan->argv, (char *const *)plan->envp);
    exec_errno = errno;
    syscall(SYS_exit_group, 127);
    for (;;)
        syscall(SYS_exit, 127);
}
