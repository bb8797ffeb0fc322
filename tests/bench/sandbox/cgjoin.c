/* cgjoin PROCS_FILE PROGRAM ARGS...: join a cgroup, then exec — how a peer without cgroup
 * support of its own (bwrap) is put into the same v1 memory cgroup for the comparison. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)n) != n)
        return 3;
    close(fd);
    execv(argv[2], argv + 2);
    return 4;
}
