/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Path and file helpers used by more than one room. All return -errno, none logs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Whether path is on a filesystem of type magic (statfs f_type, e.g. BPF_FS_MAGIC); false when
 * it cannot be checked. */
bool path_is_fs_type(const char *path, long magic);

/* "dir/file", newly allocated. 0 or -ENOMEM. */
int path_join(const char *dir, const char *file, char **ret);

/* Creates path and its missing parents with mode (existing ones are fine). 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* The start (at most 255 bytes) of a small file such as a sysctl, whitespace stripped. */
int read_one_line_file(const char *path, char **ret);

/* Writes s with one write() into an existing file (a sysctl, cgroup.procs). 0 or -errno. */
int write_string_file(const char *path, const char *s);
