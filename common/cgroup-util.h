/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup v2 lookups shared by the daemon (the fastpath's default cgroup), the bpf tests and the
 * fastpath bench (their own cgroups). Nothing here logs: the callers say what the error means. */
#pragma once

#include <stdio.h>

/* The mount point of the first cgroup2 filesystem in /proc/self/mountinfo, octal escapes decoded.
 * Returns 0, -ENOENT when none is mounted, or another -errno. */
int cgroup2_root_find(char **ret);
/* The same over an open mountinfo file (for the tests). */
int cgroup2_root_parse(FILE *mountinfo, char **ret);

/* The directory of this process's own cgroup below root (root + the "0::" line of
 * /proc/self/cgroup). Returns 0, -ENOENT when there is no cgroup2 line, or another -errno. */
int cgroup_self_path(const char *root, char **ret);

/* Moves this process into the cgroup directory dir (writes its pid to dir/cgroup.procs). 0 or -errno. */
int cgroup_enter(const char *dir);
