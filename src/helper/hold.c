/*
 * supervisor-holder SOCKET: keeps copies of file descriptors for the supervisor, so they
 * outlive a supervisor that is killed (kill -9, a crash, an upgrade): the read ends of the
 * services' stdout/stderr (without them a service would get EPIPE, or die of SIGPIPE, at its
 * next line of output; with them its output waits in the socket buffer), the socket units'
 * listening sockets (a client connecting meanwhile waits in the backlog instead of being
 * refused, and the next supervisor serves the very same socket), and the services' FDSTORE=1
 * descriptors. The next supervisor takes them back. The same idea as systemd's fd store and
 * s6-fdholder. The keys mean nothing here; the supervisor names them.
 *
 * One SOCK_SEQPACKET socket, clients of the same uid only (the supervisor is root; the socket
 * is 0600). Requests, one message each:
 *   "PUT key" + one fd   keep the fd under key (an older one under that key is closed)
 *   "DEL key"            close and forget it
 *   "GET"                one message per kept fd: "key" + the fd; then "END"
 *   "QUIT"               exit (the supervisor stopped cleanly: nothing is left to keep)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define HOLD_MAX_FDS 65536
#define HOLD_MAX_CLIENTS 8
#define HOLD_KEY_MAX 1023 /* FdHolder.MaxKeyBytes */

struct held {
    char *key; /* strdup'd: most keys are short, the table is large */
    int fd;
};

static struct held *held;
static size_t nheld;

static ssize_t find(const char *key)
{
    for (size_t i = 0; i < nheld; i++)
        if (strcmp(held[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

static void drop(size_t i)
{
    close(held[i].fd);
    free(held[i].key);
    held[i] = held[--nheld];
}

static int send_one(int sock, const char *text, int fd)
{
    struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/*
 * One message into TEXT (NUL-terminated) with at most one fd; -1 when the client is gone or
 * sent something malformed (truncated, or more than one fd: every fd it sent is closed).
 */
static int receive(int sock, char *text, size_t size, int *fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    struct iovec iov = { .iov_base = text, .iov_len = size - 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    int extra = 0;
    *fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            if (*fd < 0)
                *fd = fds[i];
            else {
                close(fds[i]);
                extra = 1;
            }
        }
    }
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || extra) {
        if (*fd >= 0)
            close(*fd);
        return -1;
    }
    return 0;
}

/* PUT: keep FD under KEY, replacing an older one; -1 (fd closed) when the table is full. */
static int put(const char *key, int fd)
{
    ssize_t i = find(key);
    if (i >= 0) {
        close(held[i].fd);
        held[i].fd = fd;
        return 0;
    }
    char *copy = nheld == HOLD_MAX_FDS ? NULL : strdup(key);
    if (!copy) {
        close(fd);
        return -1;
    }
    held[nheld].key = copy;
    held[nheld++].fd = fd;
    return 0;
}

/* One request; returns -1 when the client is gone or misbehaves (its connection is closed), 1 on QUIT. */
static int handle(int sock)
{
    char text[4 + HOLD_KEY_MAX + 1]; /* "PUT " + key + NUL: a longer message is truncated and refused */
    int fd;
    if (receive(sock, text, sizeof text, &fd) < 0)
        return -1;
    if (strncmp(text, "PUT ", 4) == 0 && fd >= 0 && text[4] != '\0')
        return put(text + 4, fd);
    if (fd >= 0)
        close(fd);
    if (strncmp(text, "DEL ", 4) == 0) {
        ssize_t i = find(text + 4);
        if (i >= 0)
            drop((size_t)i);
        return 0;
    }
    if (strcmp(text, "GET") == 0) {
        for (size_t i = 0; i < nheld; i++)
            if (send_one(sock, held[i].key, held[i].fd) < 0)
                return -1;
        return send_one(sock, "END", -1) < 0 ? -1 : 0;
    }
    if (strcmp(text, "QUIT") == 0)
        return 1;
    return -1;
}

/* The listening socket at PATH (0600, a stale one replaced), or -1 with the reason on stderr. */
static int listen_on(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "supervisor-holder: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lsock < 0) {
        fprintf(stderr, "supervisor-holder: socket: %s\n", strerror(errno));
        return -1;
    }
    unlink(path);
    mode_t old = umask(0077);
    int b = bind(lsock, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (b < 0 || listen(lsock, HOLD_MAX_CLIENTS) < 0) {
        fprintf(stderr, "supervisor-holder: cannot listen on %s: %s\n", path, strerror(errno));
        close(lsock);
        return -1;
    }
    return lsock;
}

/* A new client of our own uid, or -1 (refused: another uid, or too many clients). */
static int accept_client(int lsock, int nclients)
{
    int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return -1;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (nclients == HOLD_MAX_CLIENTS || getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
        close(c);
        return -1;
    }
    return c;
}

/* Serves requests until QUIT (returns 0, the socket removed) or a poll failure (returns 1). */
static int serve(int lsock, const char *path)
{
    struct pollfd pfd[1 + HOLD_MAX_CLIENTS];
    int nclients = 0;
    pfd[0] = (struct pollfd){ .fd = lsock, .events = POLLIN };
    for (;;) {
        if (poll(pfd, (nfds_t)(1 + nclients), -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int i = nclients; i >= 1; i--) {
            if (!pfd[i].revents)
                continue;
            int r = (pfd[i].revents & POLLIN) ? handle(pfd[i].fd) : -1;
            if (r == 1) {
                unlink(path);
                return 0;
            }
            if (r < 0) {
                close(pfd[i].fd);
                pfd[i] = pfd[nclients--];
            }
        }
        if (pfd[0].revents & POLLIN) {
            int c = accept_client(lsock, nclients);
            if (c >= 0)
                pfd[++nclients] = (struct pollfd){ .fd = c, .events = POLLIN };
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: supervisor-holder SOCKET\n");
        return 2;
    }
    /* Nothing of the supervisor's but stdio: this process outlives it. */
    syscall(SYS_close_range, 3, ~0U, 0);
    held = calloc(HOLD_MAX_FDS, sizeof *held);
    if (!held)
        return 1;
    /* Not the supervisor's terminal's: a Ctrl-C there stops the supervisor, which says QUIT itself. */
    setsid();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int lsock = listen_on(argv[1]);
    if (lsock < 0)
        return 1;
    return serve(lsock, argv[1]);
}
