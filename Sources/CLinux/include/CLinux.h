// Linux calls that Swift's Glibc module hides behind _GNU_SOURCE or variadic syscall().
#ifndef BERTH_CLINUX_H
#define BERTH_CLINUX_H

#include <sys/types.h>

int berth_setns(int fd, int nstype);
int berth_unshare(int flags);
int berth_clone_newnet(void);
int berth_clone_newns(void);
int berth_pidfd_open(pid_t pid);
int berth_set_child_subreaper(void);
int berth_pidfd_send_signal(int pidfd, int sig);
/// A copy of descriptor `fd` of the process behind `pidfd` (Linux 5.6), close-on-exec.
int berth_pidfd_getfd(int pidfd, int fd);
/// posix_spawn of `path` with `in`/`out`/`err` as its stdio, every other descriptor closed
/// (closefrom, whatever the caller has open), no blocked signals, and a process group of
/// its own. Returns 0 or an errno value.
int berth_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err);
/// 1 when `path` (symlinks followed) is the root of a mount, 0 when not or when it does not
/// exist, -1 when the kernel cannot tell (no STATX_ATTR_MOUNT_ROOT before Linux 5.8).
int berth_is_mount_root(const char *path);

/// Caps glibc's malloc arenas at `count`: each thread otherwise may get an arena of its
/// own whose freed memory stays resident. Call before starting threads.
void berth_limit_malloc_arenas(int count);
/// Returns freed heap memory of every arena to the kernel (glibc malloc_trim).
void berth_release_free_memory(void);

#include "CLinuxDatagrams.h"
#include "CLinuxMounts.h"

#endif
