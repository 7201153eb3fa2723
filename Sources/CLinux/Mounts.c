#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CLinuxMounts.h"

// Debian 12's headers may lack the names; the numbers are the same on every architecture.
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#define BERTH_OPEN_TREE_CLONE 1
#define BERTH_AT_RECURSIVE 0x8000
#define BERTH_MOVE_MOUNT_F_EMPTY_PATH 0x00000004

int berth_clone_mount_tree(const char *path) {
    long fd = syscall(SYS_open_tree, AT_FDCWD, path, BERTH_OPEN_TREE_CLONE | O_CLOEXEC | BERTH_AT_RECURSIVE);
    return fd < 0 ? -errno : (int)fd;
}

int berth_attach_mount_tree(int fd, const char *target) {
    long result = syscall(SYS_move_mount, fd, "", AT_FDCWD, target, BERTH_MOVE_MOUNT_F_EMPTY_PATH);
    return result < 0 ? -errno : 0;
}
