// The new mount API (Linux 5.2): copying a mount tree from one mount namespace into another.
#ifndef BERTH_CLINUX_MOUNTS_H
#define BERTH_CLINUX_MOUNTS_H

/// A detached copy of the tree at `path` (open_tree, OPEN_TREE_CLONE | AT_RECURSIVE,
/// close-on-exec), as `mount --rbind` would make it: a descriptor, or -errno.
int berth_clone_mount_tree(const char *path);

/// Attaches a detached tree at `target` in the calling thread's mount namespace
/// (move_mount): 0, or -errno.
int berth_attach_mount_tree(int fd, const char *target);

#endif
