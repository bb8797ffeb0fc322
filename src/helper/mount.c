/*
 * mount.c — the filesystem view: private propagation, then the plan's mount operations in
 * order. Read-only is a per-mount attribute set with mount_setattr(2), which (unlike a
 * MS_REMOUNT|MS_BIND remount) also reaches every submount with AT_RECURSIVE.
 *
 * Bind sources are the host's, as in systemd: each is cloned with open_tree(2) before the
 * first operation, so a later tmpfs (PrivateTmp, TemporaryFileSystem) cannot hide it. A bind or
 * a tmpfs may create its own mount point (MOUNT_FLAG_CREATE; the compiler sets it only inside a
 * fresh tmpfs of the plan, so nothing is created on the host), and a read-only tmpfs becomes
 * read-only only after every operation (mount_seal), so such mount points can be made in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"

/* Detached mounts made before the operations run, by operation index; -1: none. */
static int prepared[PLAN_MAX_MOUNTS];
/* An open_tree failure, reported by the operation that needed the tree. */
static int prepare_errno[PLAN_MAX_MOUNTS];

int mount_make_private(void)
{
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* mkdir -p for the parents of PATH (0755), inside what the compiler knows is a fresh tmpfs. */
static int make_parents(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int make_node(const char *path, mode_t source_mode)
{
    if (make_parents(path) < 0)
        return -1;
    if (S_ISDIR(source_mode))
        return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return errno == EEXIST ? 0 : -1;
    close(fd);
    return 0;
}

/*
 * A mount point for a tree whose root has mode SOURCE_MODE: a directory, or an empty file, with
 * its parents 0755 whatever the supervisor's umask, so a service under another uid can reach
 * what is mounted there (its notify socket, a bind in its private /tmp).
 */
static int make_mount_point(const char *path, mode_t source_mode)
{
    mode_t old = umask(0);
    int r = make_node(path, source_mode);
    int e = errno;
    umask(old);
    errno = e;
    return r;
}

static int missing(const char *path)
{
    struct stat st;
    return lstat(path, &st) < 0 && errno == ENOENT;
}

static int set_read_only(const char *path, int read_only, int recursive)
{
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    if (read_only)
        attr.attr_set = MOUNT_ATTR_RDONLY;
    else
        attr.attr_clr = MOUNT_ATTR_RDONLY;
    return mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr);
}

static int is_mount_root(const char *path)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
        return -1;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/*
 * Clone every bind source now, before any operation changes the view: the sources are the
 * host's paths (systemd's rule), even where a tmpfs of the plan covers them later.
 */
int mount_prepare_sources(const struct plan *plan)
{
    for (size_t i = 0; i < plan->nmounts; i++) {
        const struct plan_mount *m = &plan->mounts[i];
        if (m->op != MOUNT_OP_BIND)
            continue;
        unsigned int f = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MOUNT_FLAG_RECURSIVE) ? AT_RECURSIVE : 0);
        prepared[i] = open_tree(AT_FDCWD, m->src, f);
        prepare_errno[i] = prepared[i] < 0 ? errno : 0;
    }
    return 0;
}

static int op_bind(const struct plan_mount *m, size_t index)
{
    int tree = prepared[index];
    if (tree < 0) {
        if ((m->flags & MOUNT_FLAG_OPTIONAL) && prepare_errno[index] == ENOENT)
            return 0;
        errno = prepare_errno[index] ? prepare_errno[index] : EBADF;
        return -1;
    }
    struct stat st;
    if ((m->flags & MOUNT_FLAG_CREATE) && missing(m->dst) &&
        (fstat(tree, &st) < 0 || make_mount_point(m->dst, st.st_mode) < 0))
        return -1;
    if (move_mount(tree, "", AT_FDCWD, m->dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return -1;
    close(tree);
    prepared[index] = -1;
    /* A bind copies the source mount's flags; state read-only or read-write explicitly, so a
     * ReadWritePaths entry under a read-only / really becomes writable. */
    return set_read_only(m->dst, m->flags & MOUNT_FLAG_READ_ONLY, m->flags & MOUNT_FLAG_RECURSIVE);
}

static int op_remount(const struct plan_mount *m)
{
    if ((m->flags & MOUNT_FLAG_OPTIONAL) && missing(m->dst))
        return 0;
    int root = is_mount_root(m->dst);
    if (root < 0)
        return -1;
    /* A path that is not a mount of its own gets one first (a bind onto itself), so only it,
     * not its parent mount, changes. A mount root — / in particular, where a bind on top
     * would stay invisible to this process — is changed in place: in our private namespace
     * it is our copy. */
    if (!root && mount(m->dst, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -1;
    return set_read_only(m->dst, m->flags & MOUNT_FLAG_READ_ONLY, m->flags & MOUNT_FLAG_RECURSIVE);
}

/* Read-only comes later, in mount_seal: mount points may still be created inside. */
static int op_tmpfs(const struct plan_mount *m)
{
    char data[512];
    int n = snprintf(data, sizeof data, "mode=0%o%s%s", (unsigned)m->mode, m->data[0] ? "," : "", m->data);
    if (n < 0 || (size_t)n >= sizeof data) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((m->flags & MOUNT_FLAG_CREATE) && missing(m->dst) && make_mount_point(m->dst, S_IFDIR) < 0)
        return -1;
    unsigned long f = MS_NOSUID | MS_NODEV | ((m->flags & MOUNT_FLAG_NOEXEC) ? MS_NOEXEC : 0);
    return mount("tmpfs", m->dst, "tmpfs", f, data);
}

int mount_seal(const struct plan *plan, size_t *failed)
{
    for (size_t i = 0; i < plan->nmounts; i++) {
        const struct plan_mount *m = &plan->mounts[i];
        if (m->op == MOUNT_OP_TMPFS && (m->flags & MOUNT_FLAG_READ_ONLY) && set_read_only(m->dst, 1, 0) < 0) {
            *failed = i;
            return -1;
        }
    }
    return 0;
}

/* "a=b,c" as fsconfig calls: a string for each key=value, a flag for each bare key. */
static int configure(int fs, const char *options)
{
    char buf[512];
    if (strlen(options) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, options);
    for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(o, '=');
        if (eq)
            *eq = '\0';
        if (fsconfig(fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o, eq ? eq + 1 : NULL, 0) < 0)
            return -1;
    }
    return 0;
}

/*
 * A proc instance is owned by the user namespace that owns our pid namespace. In a new user
 * namespace without a new pid namespace that is the host's, where the service's root has no
 * power: mount(2) of proc fails with EPERM there. So such a proc is made detached here, before
 * the clone, and the child attaches it (a detached mount moves into any namespace we may mount in).
 */
int mount_prepare_early(const struct plan *plan, size_t *failed)
{
    for (size_t i = 0; i < plan->nmounts; i++) {
        const struct plan_mount *m = &plan->mounts[i];
        prepared[i] = -1;
        if (m->op != MOUNT_OP_PROC || !(m->flags & MOUNT_FLAG_EARLY))
            continue;
        *failed = i;
        int fs = fsopen("proc", FSOPEN_CLOEXEC);
        if (fs < 0)
            return -1;
        if (configure(fs, m->data) == 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
            prepared[i] = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        int e = errno;
        close(fs);
        errno = e;
        if (prepared[i] < 0)
            return -1;
    }
    return 0;
}

static int op_proc(const struct plan_mount *m, size_t index)
{
    if (prepared[index] >= 0) {
        int r = move_mount(prepared[index], "", AT_FDCWD, m->dst, MOVE_MOUNT_F_EMPTY_PATH);
        close(prepared[index]);
        prepared[index] = -1;
        return r;
    }
    /* A new instance: it shows the pid namespace we are in, and takes its own hidepid=. */
    return mount("proc", m->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, m->data[0] ? m->data : NULL);
}

/* NoExecPaths / ExecPaths: like op_remount, for the noexec attribute only. */
static int op_exec_attr(const struct plan_mount *m)
{
    if ((m->flags & MOUNT_FLAG_OPTIONAL) && missing(m->dst))
        return 0;
    int root = is_mount_root(m->dst);
    if (root < 0)
        return -1;
    if (!root && mount(m->dst, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -1;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    if (m->flags & MOUNT_FLAG_NOEXEC)
        attr.attr_set = MOUNT_ATTR_NOEXEC;
    else
        attr.attr_clr = MOUNT_ATTR_NOEXEC;
    return mount_setattr(AT_FDCWD, m->dst, (m->flags & MOUNT_FLAG_RECURSIVE) ? AT_RECURSIVE : 0, &attr, sizeof attr);
}

/* A new mqueue instance lists the queues of the IPC namespace that mounts it: ours. */
static int op_mqueue(const struct plan_mount *m)
{
    if (missing(m->dst)) {
        if (m->flags & MOUNT_FLAG_CREATE) {
            if (make_mount_point(m->dst, S_IFDIR) < 0)
                return -1;
        } else if (m->flags & MOUNT_FLAG_OPTIONAL) {
            return 0;
        }
    }
    return mount("mqueue", m->dst, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/*
 * Cover a path with an empty node nobody may open: a mode-000 tmpfs for a directory, and for
 * anything else a mode-000 file from such a tmpfs (a bind needs a non-directory over a
 * non-directory). The tmpfs is built detached with fsopen/fsmount, so no staging directory
 * has to exist anywhere.
 */
static int op_inaccessible(const struct plan_mount *m)
{
    struct stat st;
    if (lstat(m->dst, &st) < 0)
        return ((m->flags & MOUNT_FLAG_OPTIONAL) && errno == ENOENT) ? 0 : -1;
    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    int r = -1, mnt = -1, node = -1, e;
    if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "000", 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto out;
    mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mnt < 0)
        goto out;
    if (S_ISDIR(st.st_mode)) {
        r = move_mount(mnt, "", AT_FDCWD, m->dst, MOVE_MOUNT_F_EMPTY_PATH);
    } else {
        int f = openat(mnt, "node", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
        if (f < 0)
            goto out;
        close(f);
        node = open_tree(mnt, "node", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (node < 0)
            goto out;
        r = move_mount(node, "", AT_FDCWD, m->dst, MOVE_MOUNT_F_EMPTY_PATH);
    }
    if (r == 0)
        r = set_read_only(m->dst, 1, 0);
out:
    e = errno;
    if (node >= 0)
        close(node);
    if (mnt >= 0)
        close(mnt);
    close(fs);
    errno = e;
    return r;
}

static int join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/*
 * A /dev with only the harmless nodes (systemd's PrivateDevices set). The host's device nodes
 * are bind-mounted, not mknod'ed, so this also works in a user namespace; they are cloned
 * with open_tree before the tmpfs hides them when dst is /dev itself.
 */
static int op_minimal_dev(const struct plan_mount *m)
{
    static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
    enum { N = sizeof nodes / sizeof nodes[0] };
    int trees[N];
    char path[4096];
    int r = -1, e;
    size_t opened = 0;
    for (; opened < N; opened++) {
        if (join(path, sizeof path, "/dev", nodes[opened]) < 0)
            goto out;
        trees[opened] = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (trees[opened] < 0)
            goto out;
    }
    if (mount("tmpfs", m->dst, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
        goto out;
    for (size_t i = 0; i < N; i++) {
        if (join(path, sizeof path, m->dst, nodes[i]) < 0)
            goto out;
        int f = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (f < 0)
            goto out;
        close(f);
        if (move_mount(trees[i], "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            goto out;
    }
    /* A private devpts instance: the service's ptys are its own, not the host's. */
    if (join(path, sizeof path, m->dst, "pts") < 0 || mkdir(path, 0755) < 0 ||
        mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") < 0)
        goto out;
    if (join(path, sizeof path, m->dst, "ptmx") < 0 || symlink("pts/ptmx", path) < 0)
        goto out;
    if (join(path, sizeof path, m->dst, "shm") < 0 || mkdir(path, 01777) < 0 ||
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=01777") < 0)
        goto out;
    static const char *const links[][2] = {
        { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" } };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (join(path, sizeof path, m->dst, links[i][0]) < 0 || symlink(links[i][1], path) < 0)
            goto out;
    r = 0;
out:
    e = errno;
    for (size_t i = 0; i < opened; i++)
        close(trees[i]);
    errno = e;
    return r;
}

static int op_mkdir(const struct plan_mount *m)
{
    if (m->flags & MOUNT_FLAG_FILE) {
        int fd = open(m->dst, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, (mode_t)m->mode);
        if (fd < 0)
            return errno == EEXIST ? 0 : -1;
        close(fd);
        return 0;
    }
    if (mkdir(m->dst, (mode_t)m->mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/*
 * pivot_root, never chroot: after a chroot the old root is still reachable (mkdir x; chroot x;
 * chdir ../..). The new root must be a mount point, so bind it onto itself; pivot_root(".",
 * ".") stacks the old root on top of the new one, and umount2(".", MNT_DETACH) takes it
 * away, so nothing of the host tree is left in this mount namespace (runc does the same).
 */
static int op_pivot_root(const struct plan_mount *m)
{
    if (mount(m->dst, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -1;
    if (chdir(m->dst) < 0)
        return -1;
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return -1;
    if (umount2(".", MNT_DETACH) < 0)
        return -1;
    return chdir("/");
}

int mount_apply(const struct plan_mount *m, size_t index, uint32_t *step)
{
    switch (m->op) {
    case MOUNT_OP_BIND:
        return op_bind(m, index);
    case MOUNT_OP_REMOUNT:
        return op_remount(m);
    case MOUNT_OP_TMPFS:
        return op_tmpfs(m);
    case MOUNT_OP_PROC:
        return op_proc(m, index);
    case MOUNT_OP_EXEC_ATTR:
        return op_exec_attr(m);
    case MOUNT_OP_MQUEUE:
        return op_mqueue(m);
    case MOUNT_OP_INACCESSIBLE:
        return op_inaccessible(m);
    case MOUNT_OP_MINIMAL_DEV:
        return op_minimal_dev(m);
    case MOUNT_OP_MKDIR:
        return op_mkdir(m);
    case MOUNT_OP_PIVOT_ROOT:
        *step = STEP_PIVOT_ROOT;
        return op_pivot_root(m);
    default:
        errno = EINVAL;
        return -1;
    }
}
