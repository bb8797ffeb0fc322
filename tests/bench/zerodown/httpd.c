/*
 * httpd PORT: the zero-downtime bench's service. One program both ways: with LISTEN_FDS=1 and
 * LISTEN_PID equal to its pid (systemd's socket activation, sd_listen_fds(3)) it serves fd 3;
 * otherwise it binds 127.0.0.1:PORT itself. Every request gets "200 ok" and Connection: close,
 * so each connection carries one request and a restart can only hurt the connect.
 *
 * SIGTERM ends it cleanly: it stops accepting, finishes the request in hand and exits. Connections
 * the kernel queued but it never accepted stay in the listening socket's backlog: with socket
 * activation the supervisor keeps that socket and the next run accepts them; a self-bound socket
 * dies with the process, which resets them, and until the next run binds, connects are refused.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static int listening(const char *port)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (fds && pid && atoi(fds) >= 1 && atol(pid) == (long)getpid())
        return 3;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4096) < 0) {
        perror("httpd: bind/listen");
        exit(1);
    }
    return s;
}

/* Reads the request head (up to the blank line, or what fits) and answers it. */
static void serve(int c)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue; /* SIGTERM while reading: this request is in hand, it is finished */
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    size_t sent = 0;
    while (sent < sizeof reply - 1) {
        ssize_t n = write(c, reply + sent, sizeof reply - 1 - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        sent += (size_t)n;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: httpd PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* No SA_RESTART: a SIGTERM interrupts accept(), so the loop sees it at once. */
    struct sigaction sa = { .sa_handler = on_term };
    sigaction(SIGTERM, &sa, NULL);
    int l = listening(argv[1]);
    while (!stopping) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve(c);
        close(c);
    }
    return 0;
}
