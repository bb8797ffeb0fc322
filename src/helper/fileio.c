/*
 * fileio.c — the one way the helper writes a kernel file (cgroup.procs, uid_map, attr/exec):
 * a single write() of the whole text, then close. Many of these files accept exactly one write
 * (uid_map/gid_map) or interpret each write as a whole record (attr/exec, cgroup.procs), so a
 * short write is an error (EIO), never retried in pieces. errno is that of the write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

int write_fd_once(int fd, const char *text, size_t len)
{
    ssize_t w = write(fd, text, len);
    int e = errno;
    close(fd);
    if (w != (ssize_t)len) {
        errno = w < 0 ? e : EIO;
        return -1;
    }
    return 0;
}

int write_file_once(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return write_fd_once(fd, text, strlen(text));
}
