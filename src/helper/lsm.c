/*
 * lsm.c — the LSM label the service gets at execve. Writing to attr/exec only arms the label;
 * the transition happens at the execve itself, so this is done just before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

/* Overridable at compile time only so the helper tests can see what is written where. */
#ifndef LSM_ATTR_DIR
#define LSM_ATTR_DIR "/proc/self/attr"
#endif
#ifndef LSM_APPARMOR_ENABLED
#define LSM_APPARMOR_ENABLED "/sys/module/apparmor/parameters/enabled"
#endif
#ifndef LSM_SELINUX_ENFORCE
#define LSM_SELINUX_ENFORCE "/sys/fs/selinux/enforce"
#endif

static int read_first_char(const char *path)
{
    char c = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, &c, 1);
    close(fd);
    return r == 1 ? c : -1;
}

int lsm_enabled(uint32_t kind)
{
    switch (kind) {
    case LSM_KIND_APPARMOR:
        /* The module parameter says Y only when AppArmor is built in and active. */
        return read_first_char(LSM_APPARMOR_ENABLED) == 'Y';
    case LSM_KIND_SELINUX:
        /* selinuxfs exists only when SELinux is enabled (enforcing or permissive). */
        return access(LSM_SELINUX_ENFORCE, F_OK) == 0;
    default:
        return 0;
    }
}

int lsm_set_exec_label(uint32_t kind, const char *label)
{
    if (kind == LSM_KIND_APPARMOR) {
        char cmd[4096];
        int n = snprintf(cmd, sizeof cmd, "exec %s", label);
        if (n < 0 || (size_t)n >= sizeof cmd) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* Kernels with LSM stacking have a per-LSM directory; older ones only attr/exec. */
        if (write_file_once(LSM_ATTR_DIR "/apparmor/exec", cmd) == 0)
            return 0;
        if (errno != ENOENT)
            return -1;
        return write_file_once(LSM_ATTR_DIR "/exec", cmd);
    }
    if (kind == LSM_KIND_SELINUX)
        return write_file_once(LSM_ATTR_DIR "/exec", label);
    errno = EINVAL;
    return -1;
}
