// Linux calls that Swift's Glibc module hides behind _GNU_SOURCE or variadic syscall().
#ifndef BERTH_CLINUX_H
#define BERTH_CLINUX_H

#include <sys/types.h>

int berth_setns(int fd, int nstype);
int berth_unshare(int flags);
int berth_clone_newnet(void);
int berth_pidfd_open(pid_t pid);
int berth_set_child_subreaper(void);

#include "CLinuxDatagrams.h"

#endif
